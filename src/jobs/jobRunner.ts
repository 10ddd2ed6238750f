import '../processSetup.js'
import { parentPort, isMainThread, workerData } from 'node:worker_threads'
import { loadConfig } from '../config.js'
import { isAbortError, PipelineError } from '../errors.js'
import { withRuntime, type Runtime } from '../runtime.js'
import { EMBEDDED_CREDENTIALS } from '../s3/embeddedS3.js'
import { readSettings, storeFor } from '../s3/objectStore.js'
import { RemoteWarehouse } from '../warehouse/remoteWarehouse.js'
import { throughDaemon } from '../cli/oneOffTask.js'
import { lockedHint } from '../cli/lockedHint.js'
import { recordOneOff } from '../dag/oneOffRun.js'

/** What the daemon hands each job's worker (Bree's workerData). */
export interface JobWorkerData {
  careplus?: {
    /** The daemon's settings, so a worker sees exactly the configuration its daemon validated. */
    env: Record<string, string | undefined>
    /** The daemon's S3 endpoint (its embedded server, when no bucket is configured). */
    s3: { endpoint?: string; bucket: string; embedded: boolean }
  }
  /** Per-job arguments from the DAG, e.g. `{ layers: ['silver'] }`. */
  args?: Record<string, unknown>
}

/** The DAG tasks a job file is, run alone: `node jobs/transform.js` is both layers. */
const STANDALONE_TASKS: Record<string, string[]> = { transform: ['silver', 'gold'] }

export type JobMessage =
  | { type: 'result'; job: string; result: unknown }
  | { type: 'error'; job: string; cancelled: boolean; message: string; code?: string }

/**
 * Runs one job body with its runtime and cancellation wired in.
 * Under the daemon (a Bree worker thread) the warehouse is the daemon's, over
 * messages, the S3 endpoint is the daemon's, and Bree's `cancel` message
 * aborts the body. Alone (`node jobs/<name>.js`) it opens its own runtime and
 * SIGINT/SIGTERM abort. The body is always awaited; under Bree the result or
 * error is posted, then `done`.
 */
export async function runJob<T>(
  name: string,
  body: (rt: Runtime, signal: AbortSignal, args: Record<string, unknown>) => Promise<T>,
  format: (r: T) => string,
): Promise<void> {
  const controller = new AbortController()
  const cancel = (why: string) => () => controller.abort(new PipelineError('ERR_CANCELLED', `${name} cancelled (${why})`))
  const data = (workerData ?? {}) as JobWorkerData
  const underDaemon = !isMainThread && parentPort !== null && data.careplus !== undefined
  if (!isMainThread && parentPort) {
    parentPort.on('message', (msg: unknown) => {
      if (msg === 'cancel') cancel('cancel message')()
    })
  } else {
    process.once('SIGINT', cancel('SIGINT'))
    process.once('SIGTERM', cancel('SIGTERM'))
  }
  try {
    let result: T
    if (underDaemon) {
      const c = data.careplus!
      const cfg = loadConfig(c.env)
      const store = storeFor({
        bucket: c.s3.bucket,
        region: cfg.S3_REGION,
        endpoint: c.s3.endpoint,
        credentials: c.s3.embedded ? EMBEDDED_CREDENTIALS : undefined,
        ...readSettings(cfg),
      })
      const warehouse = new RemoteWarehouse(cfg.WAREHOUSE, parentPort!)
      try {
        result = await body({ cfg, store, warehouse }, controller.signal, data.args ?? {})
      } finally {
        await warehouse.close()
        store.client.destroy()
      }
    } else {
      const cfg = loadConfig()
      // Alone while a daemon holds the warehouse: the daemon runs it (a single-task run), this process waits.
      const remote = await throughDaemon(cfg, STANDALONE_TASKS[name] ?? [name], { signal: controller.signal })
      if (remote) {
        for (const r of Object.values(remote.results)) process.stdout.write(format(r as T))
        return
      }
      result = await withRuntime(cfg, (rt) => recordOneOff({ warehouse: rt.warehouse, home: cfg.home, task: name }, () => body(rt, controller.signal, data.args ?? {})))
    }
    // Under Bree the summary goes to the task's log (the orchestrator reads the worker's stdout) and to the daemon.
    process.stdout.write(format(result))
    if (parentPort) parentPort.postMessage({ type: 'result', job: name, result } satisfies JobMessage)
  } catch (err) {
    const e = err as Error & { code?: string }
    const cancelled = controller.signal.aborted && (isAbortError(e) || e === controller.signal.reason || e.code === 'ERR_CANCELLED')
    let message = cancelled ? (controller.signal.reason as Error).message : e.message.split('\n')[0]!
    if (e.code === 'ERR_WAREHOUSE_LOCKED' && !parentPort) message = await lockedHint(loadConfig(), message)
    if (parentPort) {
      parentPort.postMessage({ type: 'error', job: name, cancelled, message, code: e.code } satisfies JobMessage)
      if (cancelled) parentPort.postMessage('cancelled')
    }
    process.stderr.write(`${name}: ${message}\n`)
    process.exitCode = cancelled ? 130 : 1
  }
  // Bree ends the worker on 'done', whatever the outcome. Without it the thread stays
  // alive, held by its parentPort listener, and the task would wait for its timeout.
  parentPort?.postMessage('done')
}
