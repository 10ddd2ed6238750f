import '../processSetup.js'
import { parentPort, isMainThread } from 'node:worker_threads'
import { loadConfig, type Config } from '../config.js'
import { isAbortError, PipelineError } from '../errors.js'

/**
 * Runs one job body with cancellation wired in: under Bree (a worker thread)
 * the `cancel` message aborts it; run alone (`node jobs/<name>.js`) SIGINT and
 * SIGTERM do. The body is always awaited; the result is posted to Bree as
 * `{ type: 'result' }` and the worker then signals `done`.
 */
export async function runJob<T>(name: string, body: (cfg: Config, signal: AbortSignal) => Promise<T>, format: (r: T) => string): Promise<void> {
  const controller = new AbortController()
  const cancel = (why: string) => () => controller.abort(new PipelineError('ERR_CANCELLED', `${name} cancelled (${why})`))
  if (!isMainThread && parentPort) {
    parentPort.on('message', (msg: unknown) => {
      if (msg === 'cancel') cancel('cancel message')()
    })
  } else {
    process.once('SIGINT', cancel('SIGINT'))
    process.once('SIGTERM', cancel('SIGTERM'))
  }
  try {
    const result = await body(loadConfig(), controller.signal)
    if (parentPort) parentPort.postMessage({ type: 'result', job: name, result })
    else process.stdout.write(format(result))
    if (parentPort) parentPort.postMessage('done')
  } catch (err) {
    const e = err as Error
    const cancelled = controller.signal.aborted && (isAbortError(e) || e === controller.signal.reason)
    const message = cancelled ? (controller.signal.reason as Error).message : e.message.split('\n')[0]
    if (parentPort) {
      parentPort.postMessage({ type: 'error', job: name, cancelled, message })
      if (cancelled) parentPort.postMessage('cancelled')
    } else process.stderr.write(`${name}: ${message}\n`)
    process.exitCode = cancelled ? 130 : 1
  }
}
