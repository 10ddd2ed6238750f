/**
 * Reading the ticket source: the queries one run sends to MySQL, the
 * streaming cursor over them, and the change filter that turns source rows
 * into new bronze versions.
 */
import { createHash } from 'node:crypto'
import { Transform } from 'node:stream'
import type { Connection } from 'mysql2'
import type { TICKET_CSV_COLUMNS } from '../../load/bronzeSchema.js'
import type { MysqlReadWatch } from '../mysql.js'
import type { TicketCursor } from './cursor.js'
import { bronzeColumnOf, SOURCE_TABLE, TICKET_SOURCE_COLUMNS, type TicketSourceRow } from './schema.js'

/** A source row with the cursor value it was read at. */
export type ExtractedRow = TicketSourceRow & { _cursor_value: string | null }
export type BronzeTicket = Record<(typeof TICKET_CSV_COLUMNS)[number], string | null>

/** Open tickets re-extracted per MySQL query. */
const OPEN_IDS_PER_QUERY = 1000
export const ROWS_PER_BATCH = 2000
const SOURCE_TO_BRONZE = TICKET_SOURCE_COLUMNS.map((c) => [c, bronzeColumnOf(c) as keyof BronzeTicket] as const)

export interface Query {
  sql: string
  values: unknown[]
}

/**
 * Rows from the window's start on (the watermark minus TICKETS_LOOKBACK,
 * inclusive: tickets sharing the watermark's second and late arrivals are
 * not lost), rows with no cursor value at all, then, without an
 * update-tracking cursor, every ticket open at its last load that the first
 * query does not already cover. The queries are disjoint, and the change
 * filter drops what bronze already holds. No start: the whole table.
 */
export function extractionQueries(cursor: TicketCursor): Query[] {
  const cursorSql = `\`${cursor.column}\``
  const select = `SELECT ${TICKET_SOURCE_COLUMNS.map((c) => `\`${c}\``).join(', ')}, ${cursorSql} AS _cursor_value FROM ${SOURCE_TABLE}`
  const { from } = cursor
  if (from === null) return [{ sql: select, values: [] }]
  const queries: Query[] = [
    { sql: `${select} WHERE ${cursorSql} >= ?`, values: [from] },
    // No cursor value: never behind a watermark, so read on every run.
    { sql: `${select} WHERE ${cursorSql} IS NULL`, values: [] },
  ]
  if (cursor.recheckOpen) {
    for (let i = 0; i < cursor.openIds.length; i += OPEN_IDS_PER_QUERY) {
      const ids = cursor.openIds.slice(i, i + OPEN_IDS_PER_QUERY)
      queries.push({ sql: `${select} WHERE ticket_id IN (?) AND ${cursorSql} < ?`, values: [ids, from] })
    }
  }
  return queries
}

/**
 * Streams each query's rows in order, in batches: mysql2's query stream
 * pauses the connection when it is not read, so backpressure reaches MySQL
 * and the result set never sits in memory. The read watch is armed only
 * while waiting for rows, not while a batch is handed on.
 */
export async function* readBatches(conn: Connection, queries: readonly Query[], watch?: MysqlReadWatch): AsyncGenerator<ExtractedRow[]> {
  for (const q of queries) {
    const rows = conn.query({ sql: q.sql, values: q.values }).stream({ highWaterMark: ROWS_PER_BATCH })
    // A connection lost while the stream is paused (backpressure) is reported
    // on the connection only, and the paused stream would wait forever: hand
    // the error to the stream so the run fails.
    const onLost = (err: Error): void => void rows.destroy(err)
    conn.on('error', onLost)
    watch?.arm()
    try {
      let batch: ExtractedRow[] = []
      for await (const row of rows as AsyncIterable<ExtractedRow>) {
        batch.push(row)
        if (batch.length === ROWS_PER_BATCH) {
          watch?.disarm()
          yield batch
          watch?.arm()
          batch = []
        }
      }
      watch?.disarm()
      if (batch.length > 0) yield batch
    } finally {
      watch?.disarm()
      conn.off('error', onLost)
    }
  }
}

/**
 * A version fingerprint of a source row. Each value is length-prefixed, and
 * NULL has its own marker, so distinct rows (NULL versus '', a value with a
 * separator in it) never hash alike.
 */
export function rowHash(row: TicketSourceRow): string {
  const h = createHash('md5')
  for (const c of TICKET_SOURCE_COLUMNS) {
    const v = row[c]
    h.update(v === null || v === undefined ? '\u0000N;' : `${Buffer.byteLength(v)}:${v};`)
  }
  return h.digest('hex')
}

export interface ChangeCounts {
  rowsRead: number
  rowsUnchanged: number
  /** Rows read with no cursor value (extracted on every run). */
  nullCursorRows: number
  /** Rows passed on: new tickets and changed versions. */
  selected: number
  /** The highest cursor value read (the next watermark). */
  maxCursor: string | null
}

/**
 * Source rows → bronze versions, dropping a row identical to its loaded
 * version (the watermark overlap, unchanged open tickets). Chunks are batches
 * of ROWS_PER_BATCH rows: one batch of buffer per side bounds memory.
 */
export function changeFilter(cursor: TicketCursor, counts: ChangeCounts, onRows?: (n: number) => void): Transform {
  return new Transform({
    objectMode: true,
    highWaterMark: 1,
    transform(rows: ExtractedRow[], _enc, cb) {
      const out: BronzeTicket[] = []
      for (const row of rows) {
        counts.rowsRead++
        const hash = rowHash(row)
        const c = row._cursor_value
        if (c === null) counts.nullCursorRows++
        if (c !== null && (counts.maxCursor === null || c > counts.maxCursor)) counts.maxCursor = c
        if (cursor.known.get(String(row.ticket_id)) === hash) {
          counts.rowsUnchanged++
          continue
        }
        counts.selected++
        const b = { _cursor_value: c, _row_hash: hash } as BronzeTicket
        for (const [src, dst] of SOURCE_TO_BRONZE) b[dst] = row[src] ?? null
        out.push(b)
      }
      onRows?.(rows.length)
      cb(null, out.length > 0 ? out : undefined)
    },
  })
}
