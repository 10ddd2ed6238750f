/** `careplus run`: the DAG once in the foreground, with the daemon's workers and history. */
import { Orchestrator, PIPELINE_DAG } from '../dag/orchestrator.js'
import { PipelineError } from '../errors.js'
import { createLogger } from '../logger.js'
import { withRuntime } from '../runtime.js'
import type { CommandContext } from './commandContext.js'
import { formatStatusGrid } from './statusGrid.js'

export async function runCommand(ctx: CommandContext): Promise<void> {
  const cfg = ctx.config()
  const logger = createLogger(cfg.LOG_LEVEL)
  await withRuntime(cfg, async (rt) => {
    await rt.warehouse.migrate()
    const orchestrator = new Orchestrator({ ...rt, env: process.env, logger })
    const onAbort = (): void => void orchestrator.stop(cfg.PIPELINE_GRACE_MS, (ctx.signal.reason as Error).message)
    ctx.signal.addEventListener('abort', onAbort, { once: true })
    try {
      const run = await orchestrator.trigger('manual', null)!
      process.stdout.write(formatStatusGrid([run], PIPELINE_DAG.map((t) => t.name)))
      // Cancelled by Ctrl-C/SIGTERM: the signal's reason, which exits 130 like any cancelled command.
      if (run.state === 'cancelled' && ctx.signal.aborted) throw ctx.signal.reason
      if (run.state !== 'success') throw new PipelineError('ERR_RUN_FAILED', `run ${run.id} ${run.state}${run.error ? `: ${run.error}` : ''}`)
    } finally {
      ctx.signal.removeEventListener('abort', onAbort)
    }
  })
}
