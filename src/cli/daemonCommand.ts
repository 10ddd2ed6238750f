/** `careplus daemon`: the DAG on PIPELINE_CRON with Bree, until SIGTERM/SIGINT. */
import { startDaemon } from '../daemon.js'
import { createLogger } from '../logger.js'
import type { CommandContext } from './commandContext.js'

export async function daemonCommand(ctx: CommandContext): Promise<void> {
  const cfg = ctx.config()
  const logger = createLogger(cfg.LOG_LEVEL)
  const daemon = await startDaemon({ cfg, env: process.env, logger })
  process.stdout.write(`careplus daemon: schedule "${cfg.PIPELINE_CRON}" ${cfg.PIPELINE_TZ}; http://${cfg.DAEMON_HOST}:${daemon.port}/healthz /metrics /status\n`)
  await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }))
  await daemon.stop()
  logger.info('daemon stopped')
}
