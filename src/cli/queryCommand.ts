import { Option, type Command } from 'commander'
import type { Config } from '../config.js'
import { openWarehouse } from '../runtime.js'
import { DaemonClient } from './daemonClient.js'
import { printResult, type QueryFormat } from './output.js'

/**
 * `careplus query`: on the warehouse itself, or, while a daemon holds it,
 * through the daemon (read-only statements only), printed the same way.
 */
export function registerQueryCommand(program: Command, ctx: { config: () => Config; signal: AbortSignal }): void {
  program
    .command('query')
    .description('run SQL on the configured warehouse (through the daemon, read-only, while one holds it)')
    .argument('<sql>', 'a SQL statement')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
    .action(async (sql: string, o: { format: QueryFormat }) => {
      const cfg = ctx.config()
      const daemon = await DaemonClient.find(cfg)
      if (daemon) {
        await printResult(daemon.query(sql, ctx.signal), o.format, process.stdout)
        return
      }
      const wh = await openWarehouse(cfg, undefined)
      try {
        await wh.migrate()
        await printResult(wh.stream(sql, ctx.signal), o.format, process.stdout)
      } finally {
        await wh.close()
      }
    })
}
