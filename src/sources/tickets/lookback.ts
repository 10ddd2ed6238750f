/**
 * The lookback window of the ticket extraction (TICKETS_LOOKBACK, dlt's
 * `lag`): where a run starts reading, and how many tickets lie before that
 * start in MySQL but not in bronze, rows no incremental run will read again.
 */
import type { Connection } from 'mysql2'
import { PipelineError } from '../../errors.js'
import { queryMysql, type MysqlReadWatch } from '../mysql.js'
import type { Warehouse } from '../../warehouse/warehouse.js'
import { LATEST_VERSION_ORDER } from './cursor.js'
import { SOURCE_TABLE } from './schema.js'

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?)?$/

/**
 * The inclusive lower bound of a run: the watermark minus the window, in the
 * server's `YYYY-MM-DD HH:MM:SS` text (cursor values are compared as MySQL
 * returns them). A fraction of a second is dropped: the bound only widens.
 */
export function windowStart(watermark: string, lookbackMs: number, column: string): string {
  if (lookbackMs === 0) return watermark
  const m = DATE_TIME.exec(watermark)
  if (!m) {
    throw new PipelineError(
      'ERR_CONFIG',
      `TICKETS_LOOKBACK needs a date-time cursor, but the watermark of ${column} is ${JSON.stringify(watermark)}: set TICKETS_LOOKBACK=0 for this column`,
    )
  }
  const [y, mo, d, h = '0', mi = '0', s = '0'] = m.slice(1)
  const t = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) - lookbackMs)
  return t.toISOString().slice(0, 19).replace('T', ' ')
}

export interface MissedDay {
  /** `YYYY-MM-DD` of the cursor value. */
  day: string
  /** Tickets with a cursor value that day in MySQL, beyond those bronze has. */
  tickets: number
}

/** Days listed in a summary at most (the earliest ones); the total counts them all. */
const MISSED_DAYS_LISTED = 31

/**
 * Tickets before the window that bronze lacks, day by day: MySQL's count per
 * day of the cursor against bronze's distinct tickets whose latest version
 * falls on that day. Two aggregates, no ids moved. A lower bound: a ticket
 * deleted from MySQL hides one missed the same day.
 */
export async function countMissedBeforeWindow(
  conn: Connection,
  watch: MysqlReadWatch,
  wh: Warehouse,
  column: string,
  from: string,
  signal?: AbortSignal,
): Promise<{ total: number; days: MissedDay[] }> {
  const c = `\`${column}\``
  const source = await watch.during(() =>
    queryMysql<{ day: string; n: number | string }>(conn, `SELECT LEFT(${c}, 10) AS day, COUNT(*) AS n FROM ${SOURCE_TABLE} WHERE ${c} < ? GROUP BY LEFT(${c}, 10)`, [from]),
  )
  if (source.length === 0) return { total: 0, days: [] }
  const bronze = await wh.query(
    `SELECT left(_cursor_value, 10) AS day, count(*) AS n FROM (
       SELECT _cursor_value, ROW_NUMBER() OVER (PARTITION BY ticket_id ORDER BY ${LATEST_VERSION_ORDER}) AS version_rank
       FROM bronze.tickets) latest
     WHERE version_rank = 1 AND _cursor_value < ?
     GROUP BY left(_cursor_value, 10)`,
    [from],
    signal,
  )
  const loaded = new Map(bronze.map((r) => [String(r.day), Number(r.n)]))
  const days: MissedDay[] = []
  let total = 0
  for (const r of source) {
    const missed = Number(r.n) - (loaded.get(String(r.day)) ?? 0)
    if (missed <= 0) continue
    total += missed
    days.push({ day: String(r.day), tickets: missed })
  }
  days.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0))
  return { total, days: days.slice(0, MISSED_DAYS_LISTED) }
}
