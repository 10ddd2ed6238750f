import '../processSetup.js'
import { parentPort, isMainThread, workerData } from 'node:worker_threads'
import { loadConfig } from '../config.js'
import { isAbortError, isErrorCode, isTransient, PipelineError } from '../errors.js'
import type { JobMessage, JobWorkerData, TaskResult } from '../dag/protocol.js'
import type { Runtime } from '../runtime.js'
import { EMBEDDED_CREDENTIALS } from '../s3/embeddedS3.js'
import { readSettings, storeFor } from '../s3/objectStore.js'
import { RemoteWarehouse } from '../warehouse/remoteWarehouse.js'
import { lockedHint } from '../cli/lockedHint.js'

/** The DAG tasks a job file is, run alone: `node jobs/transform.js` is both layers. */
const STANDALONE_TASKS: Record<string, string[]> = { transform: ['silver', 'gold'] }
/** Jobs that, alone, run DuckDB in a child process, as their CLI commands do (runtime.ts openWarehouse). */
const INGESTS = new Set(['ingest-logs', 'ingest-tickets'])

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
  body: (rt: Runtime, signal: AbortSignal, args: Record<string, unknown>, runId: string | undefined) => Promise<T>,
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
  const post = (result: TaskResult): void => parentPort!.postMessage({ type: 'task-result', job: name, runId: data.runId, result } satisfies JobMessage)
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
        result = await body({ cfg, store, warehouse }, controller.signal, data.args ?? {}, data.runId)
      } finally {
        await warehouse.close()
        store.client.destroy()
      }
    } else {
      const cfg = loadConfig()
      // Alone while a daemon holds the warehouse: the daemon runs it (a single-task run), this process waits.
      const { throughDaemon } = await import('../cli/oneOffTask.js')
      const remote = await throughDaemon(cfg, STANDALONE_TASKS[name] ?? [name], { signal: controller.signal })
      if (remote) {
        for (const r of Object.values(remote.results)) process.stdout.write(format(r as T))
        return
      }
      // Only alone does a job open a warehouse itself: a worker under the daemon never loads the engines' drivers.
      const { withRuntime } = await import('../runtime.js')
      const { recordOneOff } = await import('../dag/oneOffRun.js')
      result = await withRuntime(
        cfg,
        (rt) => recordOneOff({ warehouse: rt.warehouse, home: cfg.home, task: name }, (runId) => body(rt, controller.signal, data.args ?? {}, runId)),
        { warehouseInChildProcess: INGESTS.has(name) },
      )
    }
    // Under Bree the summary goes to the task's log (the orchestrator reads the worker's stdout) and to the daemon.
    process.stdout.write(format(result))
    if (parentPort) post({ ok: true, result: (result ?? {}) as Record<string, unknown> })
  } catch (err) {
    const e = err as Error & { code?: string }
    const cancelled = controller.signal.aborted && (isAbortError(e) || e === controller.signal.reason || e.code === 'ERR_CANCELLED')
    let message = cancelled ? (controller.signal.reason as Error).message : e.message.split('\n')[0]!
    if (e.code === 'ERR_WAREHOUSE_LOCKED' && !parentPort) message = await lockedHint(loadConfig(), message)
    if (parentPort) {
      post({ ok: false, cancelled, message, code: cancelled ? 'ERR_CANCELLED' : isErrorCode(e.code) ? e.code : undefined, transient: !cancelled && isTransient(e) })
      if (cancelled) parentPort.postMessage('cancelled')
    }
    process.stderr.write(`${name}: ${message}\n`)
    process.exitCode = cancelled ? 130 : 1
  }
  // Bree ends the worker on 'done', whatever the outcome. Without it the thread stays
  // alive, held by its parentPort listener, and the task would wait for its timeout.
  parentPort?.postMessage('done')
}
