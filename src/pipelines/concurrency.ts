import { setMaxListeners } from 'node:events'

/** A position in a list that several rounds of `forEachConcurrent` take items from in turn. */
export class ItemCursor<T> {
  private next = 0
  constructor(private readonly items: readonly T[]) {}
  get done(): boolean {
    return this.next >= this.items.length
  }
  take(): T | undefined {
    return this.done ? undefined : this.items[this.next++]
  }
}

/**
 * Runs `fn` over `items` with at most `limit` in flight. Fail-fast: the first
 * failure aborts the others through the signal handed to `fn`, waits for them
 * to settle (so no work outlives the call), then rethrows it. Given a cursor
 * and `admit`, it takes items only while `admit()` says so, and leaves the
 * rest to a later call.
 */
export async function forEachConcurrent<T>(
  items: readonly T[] | ItemCursor<T>,
  limit: number,
  fn: (item: T, signal: AbortSignal) => Promise<void>,
  signal?: AbortSignal,
  admit: () => boolean = () => true,
): Promise<void> {
  const cursor = items instanceof ItemCursor ? items : new ItemCursor(items)
  const inner = new AbortController()
  // Each object in flight listens on this signal from several places (its
  // pipeline, its uploads, a pending drain), and removes them when done;
  // Node's default of 10 listeners would warn at a concurrency of 4.
  setMaxListeners(16 * limit + 10, inner.signal)
  const onOuterAbort = (): void => inner.abort(signal!.reason)
  signal?.addEventListener('abort', onOuterAbort, { once: true })
  if (signal?.aborted) inner.abort(signal.reason)
  let failure: unknown
  const worker = async (): Promise<void> => {
    while (!cursor.done && !inner.signal.aborted && admit()) {
      const item = cursor.take()!
      try {
        await fn(item, inner.signal)
      } catch (err) {
        if (failure === undefined) failure = err
        inner.abort(err)
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: limit }, worker))
  } finally {
    signal?.removeEventListener('abort', onOuterAbort)
  }
  if (failure !== undefined) throw failure
  signal?.throwIfAborted()
}
