/**
 * `careplus query <sql> [--format table|csv|json]`: SQL on the configured
 * warehouse, or, while a daemon holds it, through the daemon (read-only
 * statements only), printed the same way.
 */
import type { CommandContext } from './commandContext.js'
import { DaemonClient } from './daemonClient.js'
import { printResult, type QueryFormat } from './output.js'

export async function queryCommand(sql: string, o: { format: QueryFormat }, ctx: CommandContext): Promise<void> {
  const cfg = ctx.config()
  const daemon = await DaemonClient.find(cfg)
  if (daemon) {
    await printResult(daemon.query(sql, ctx.signal), o.format, process.stdout)
    return
  }
  const { openWarehouse } = await import('../runtime.js')
  const wh = await openWarehouse(cfg, undefined)
  try {
    await wh.migrate()
    await printResult(wh.stream(sql, ctx.signal), o.format, process.stdout)
  } finally {
    await wh.close()
  }
}
