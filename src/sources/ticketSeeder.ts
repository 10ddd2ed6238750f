import { planTickets, TICKET_COLUMNS, type TicketRow } from '../generate/ticketPlan.js'
import { closeMysql, connectMysql, mysqlError, queryMysql, type MysqlSettings } from './mysql.js'

/** The seed's table: every column `text`. The key on a prefix of ticket_id makes reseeding idempotent. */
export const SUPPORT_TICKETS_DDL = `CREATE TABLE IF NOT EXISTS support_tickets (
  ticket_id text NOT NULL,
  created_at text,
  resolved_at text,
  agent text,
  priority text,
  num_interactions text,
  IssUeCat text,
  channel text,
  status text,
  agent_feedback text,
  PRIMARY KEY (ticket_id(32))
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin`

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
    const insertSql = `INSERT IGNORE INTO support_tickets (${TICKET_COLUMNS.join(', ')}) VALUES ?`
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
      batch.push(TICKET_COLUMNS.map((c) => (t as TicketRow)[c]))
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
