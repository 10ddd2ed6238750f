/** `careplus demo`: the pipeline on embedded defaults, with a short report. */
import { runDemo } from '../demo.js'
import { createLogger } from '../logger.js'
import type { CommandContext } from './commandContext.js'

export async function demoCommand(ctx: CommandContext): Promise<void> {
  const cfg = ctx.config()
  await runDemo(cfg, ctx.signal, createLogger(cfg.LOG_LEVEL))
}
