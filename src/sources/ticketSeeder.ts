import { planTickets } from '../generate/ticketPlan.js'
import { SOURCE_TABLE, SUPPORT_TICKETS_DDL, TICKET_SOURCE_COLUMNS, type TicketSourceRow } from './tickets/schema.js'
import { closeMysql, connectMysql, mysqlError, queryMysql, type MysqlSettings } from './mysql.js'

/**
 * `careplus generate --tickets`: creates the database and table when missing
 * and inserts the planned tickets that are not there yet (INSERT IGNORE on
 * the ticket id), in multi-row batches.
 */
export async function seedTickets(
  s: MysqlSettings & { database: string },
  opts: { count?: number; seed?: number; signal?: AbortSignal; onProgress?: (rows: number) => void } = {},
): Promise<{ planned: number; inserted: number; seconds: number }> {
  const started = performance.now()
  const server = await connectMysql({ ...s, database: undefined })
  try {
    await queryMysql(server, `CREATE DATABASE IF NOT EXISTS \`${s.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
    await queryMysql(server, `USE \`${s.database}\``)
    await queryMysql(server, SUPPORT_TICKETS_DDL)
    const insertSql = `INSERT IGNORE INTO ${SOURCE_TABLE} (${TICKET_SOURCE_COLUMNS.join(', ')}) VALUES ?`
    let planned = 0
    let inserted = 0
    let batch: unknown[][] = []
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return
      const res = (await queryMysql(server, insertSql, [batch])) as unknown as { affectedRows: number }
      inserted += res.affectedRows
      opts.onProgress?.(planned)
      batch = []
    }
    for (const t of planTickets({ seed: opts.seed ?? 42, count: opts.count ?? 810 })) {
      planned++
      // A source column the generator does not plan gets NULL.
      batch.push(TICKET_SOURCE_COLUMNS.map((c) => (t as Partial<TicketSourceRow>)[c] ?? null))
      if (batch.length === 2000) {
        opts.signal?.throwIfAborted()
        await flush()
      }
    }
    await flush()
    return { planned, inserted, seconds: (performance.now() - started) / 1000 }
  } catch (err) {
    if (opts.signal?.aborted) throw err
    throw (err as { code?: string }).code?.startsWith('ER_') || (err as { code?: string }).code === 'ECONNREFUSED' ? mysqlError(err, s, 'cannot seed tickets in') : err
  } finally {
    await closeMysql(server)
  }
}
