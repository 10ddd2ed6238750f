/** `careplus query <sql> [--format table|csv|json]`: SQL on the configured warehouse. */
import { openWarehouse } from '../runtime.js'
import type { CommandContext } from './commandContext.js'
import { printResult, type QueryFormat } from './output.js'

export async function queryCommand(sql: string, o: { format: QueryFormat }, ctx: CommandContext): Promise<void> {
  const wh = await openWarehouse(ctx.config(), undefined)
  try {
    await wh.migrate()
    await printResult(wh.stream(sql), o.format, process.stdout)
  } finally {
    await wh.close()
  }
}
