import { setMaxListeners } from 'node:events'

/**
 * Runs `fn` over `items` with at most `limit` in flight. Fail-fast: the first
 * failure aborts the others through the signal handed to `fn`, waits for them
 * to settle (so no work outlives the call), then rethrows it.
 */
export async function forEachConcurrent<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, signal: AbortSignal) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const inner = new AbortController()
  // Each object in flight listens on this signal from several places (its
  // pipeline, its uploads, a pending drain), and removes them when done;
  // Node's default of 10 listeners would warn at a concurrency of 4.
  setMaxListeners(16 * limit + 10, inner.signal)
  const onOuterAbort = (): void => inner.abort(signal!.reason)
  signal?.addEventListener('abort', onOuterAbort, { once: true })
  if (signal?.aborted) inner.abort(signal.reason)
  let next = 0
  let failure: unknown
  const worker = async (): Promise<void> => {
    while (next < items.length && !inner.signal.aborted) {
      const item = items[next++]!
      try {
        await fn(item, inner.signal)
      } catch (err) {
        if (failure === undefined) failure = err
        inner.abort(err)
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  } finally {
    signal?.removeEventListener('abort', onOuterAbort)
  }
  if (failure !== undefined) throw failure
  signal?.throwIfAborted()
}
