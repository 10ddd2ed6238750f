import type { Config } from '../config.js'
import { PipelineError } from '../errors.js'
import { DaemonClient, type RunResult } from './daemonClient.js'

/**
 * A one-off task while a daemon holds the warehouse: a single-task run in
 * the daemon (queued behind a run already going), waited for. Undefined when
 * no daemon answers, so the caller runs the task itself.
 */
export async function throughDaemon(
  cfg: Config,
  tasks: string[],
  opts: { args?: Record<string, Record<string, unknown>>; signal?: AbortSignal } = {},
): Promise<RunResult | undefined> {
  const daemon = await DaemonClient.find(cfg)
  if (!daemon) return undefined
  process.stderr.write(`a careplus daemon holds the warehouse: running ${tasks.join(', ')} through it (${daemon.base})\n`)
  const runId = await daemon.startRun({ tasks, args: opts.args, trigger: 'manual' }, { waitTurn: true, signal: opts.signal, onWait: (m) => process.stderr.write(m + '\n') })
  const r = await daemon.waitRun(runId, opts.signal)
  if (r.run.state !== 'success' && r.run.state !== 'success_with_failures') {
    throw new PipelineError('ERR_RUN_FAILED', `run ${runId} ${r.run.state}${r.run.error ? `: ${r.run.error}` : ''} (careplus logs ${runId})`)
  }
  return r
}
