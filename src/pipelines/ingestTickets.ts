import { createHash } from 'node:crypto'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Connection } from 'mysql2'
import { TableStageSink } from '../../sinks/tableStageSink.js'
import type { Config } from '../config.js'
import { PipelineError } from '../errors.js'
import { TICKET_COLUMNS } from '../generate/ticketPlan.js'
import { newRunId } from '../runId.js'
import { withQueryTag } from '../warehouse/queryTag.js'
import type { ObjectStore } from '../s3/objectStore.js'
import { closeMysql, connectMysql, mysqlError, mysqlSettings } from '../sources/mysql.js'
import type { Warehouse } from '../warehouse/warehouse.js'

export const TICKETS_SOURCE = 'tickets'
const SOURCE_TABLE = 'support_tickets'

/** bronze.tickets columns carried in the staged CSV, in file order. */
export const BRONZE_TICKET_CSV_COLUMNS = [
  'ticket_id',
  'created_at',
  'resolved_at',
  'agent',
  'priority',
  'num_interactions',
  'issue_cat',
  'channel',
  'status',
  'agent_feedback',
  '_cursor_value',
  '_row_hash',
] as const
type BronzeTicket = Record<(typeof BRONZE_TICKET_CSV_COLUMNS)[number], string | null>

/** Source column → bronze column: identical but for the seed's `IssUeCat`. */
const SOURCE_TO_BRONZE = TICKET_COLUMNS.map((c) => [c, c === 'IssUeCat' ? 'issue_cat' : c] as const)

/** Open tickets re-extracted per MySQL query. */
const OPEN_IDS_PER_QUERY = 1000
const ROWS_PER_BATCH = 2000

export interface IngestTicketsSummary {
  runId: string
  /** The cursor column and the watermark before and after the run. */
  cursorColumn: string
  watermarkFrom: string | null
  watermarkTo: string | null
  /** Rows read from MySQL: new by the watermark, plus re-read open tickets. */
  rowsRead: number
  /** Rows read that equal the version already in bronze (the watermark overlap, unchanged open tickets). */
  rowsUnchanged: number
  /** Rows appended to bronze: new tickets plus changed versions of known ones. */
  rows: number
  newTickets: number
  changedTickets: number
  openTicketsRechecked: number
  stagedFiles: number
  /** Seconds from the first MySQL query to the last staged byte, and of the COPY transaction. */
  extractSeconds: number
  loadSeconds: number
  seconds: number
  /** Rows read from MySQL per second of extraction to the stage. */
  rowsPerSec: number
}

export interface IngestTicketsOptions {
  cfg: Config
  store: ObjectStore
  warehouse: Warehouse
  signal?: AbortSignal
  runId?: string
  onProgress?: (p: { type: 'rows'; rows: number }) => void
  gzipLevel?: number
}

/**
 * A version fingerprint of a source row. Each value is length-prefixed, and
 * NULL has its own marker, so distinct rows (NULL versus '', a value with a
 * separator in it) never hash alike.
 */
export function rowHash(row: Record<string, string | null>): string {
  const h = createHash('md5')
  for (const c of TICKET_COLUMNS) {
    const v = row[c]
    h.update(v === null || v === undefined ? '\u0000N;' : `${Buffer.byteLength(v)}:${v};`)
  }
  return h.digest('hex')
}

/**
 * One incremental run of the ticket ingest:
 * MySQL streaming cursor → change filter → CSV → gzip → stage → COPY into
 * bronze.tickets, with the watermark moved in the same transaction.
 *
 * Better than the seed's `created_at > MAX(created_at)`: the cursor is
 * inclusive (tickets sharing the watermark's second are not lost), every
 * ticket still open at its last load is read again so its resolution
 * arrives, and a row identical to its loaded version is not appended again,
 * so a run with no changes stages nothing. With TICKETS_CURSOR_COLUMN (an
 * `updated_at`-like column) the cursor alone finds changed rows.
 */
export function ingestTickets(opts: IngestTicketsOptions): Promise<IngestTicketsSummary> {
  const runId = opts.runId ?? newRunId()
  // Every warehouse statement of the run is tagged with its id (Snowflake's QUERY_TAG).
  return withQueryTag({ run_id: runId, task: 'ingest-tickets' }, () => ingestTicketsRun({ ...opts, runId }))
}

async function ingestTicketsRun(opts: IngestTicketsOptions & { runId: string }): Promise<IngestTicketsSummary> {
  const { cfg, store, warehouse: wh, signal, runId } = opts
  const started = process.hrtime.bigint()
  const cursorColumn = cfg.TICKETS_CURSOR_COLUMN ?? 'created_at'
  const recheckOpen = cfg.TICKETS_CURSOR_COLUMN === undefined

  await wh.migrate()
  const [wmRow] = await wh.query('SELECT value FROM ops.watermarks WHERE source = ? AND cursor_column = ?', [TICKETS_SOURCE, cursorColumn])
  const watermark = wmRow ? String(wmRow.value) : null

  // The loaded versions a read row may repeat: open tickets, and rows at the watermark itself.
  const known = new Map<string, string>()
  const openIds: string[] = []
  if (watermark !== null) {
    const latest = await wh.query(
      `SELECT ticket_id, _row_hash, resolved_at IS NULL AS is_open FROM (
         SELECT ticket_id, resolved_at, _cursor_value, _row_hash,
                ROW_NUMBER() OVER (PARTITION BY ticket_id ORDER BY _extracted_at DESC, _run_id DESC) AS version_rank
         FROM bronze.tickets) latest
       WHERE version_rank = 1 AND (_cursor_value >= ?${recheckOpen ? ' OR resolved_at IS NULL' : ''})`,
      [watermark],
    )
    for (const r of latest) {
      known.set(String(r.ticket_id), String(r._row_hash))
      if (r.is_open) openIds.push(String(r.ticket_id))
    }
  }

  const settings = mysqlSettings(cfg)
  const conn = await connectMysql(settings)
  const extractedAt = new Date().toISOString().replace('T', ' ').replace('Z', '')
  const summary: IngestTicketsSummary = {
    runId,
    cursorColumn,
    watermarkFrom: watermark,
    watermarkTo: watermark,
    rowsRead: 0,
    rowsUnchanged: 0,
    rows: 0,
    newTickets: 0,
    changedTickets: 0,
    openTicketsRechecked: recheckOpen ? openIds.length : 0,
    stagedFiles: 0,
    extractSeconds: 0,
    loadSeconds: 0,
    seconds: 0,
    rowsPerSec: 0,
  }
  let maxCursor = watermark
  let selected = 0

  const cursorSql = `\`${cursorColumn}\``
  const select = `SELECT ${TICKET_COLUMNS.map((c) => `\`${c}\``).join(', ')}, ${cursorSql} AS _cursor_value FROM ${SOURCE_TABLE}`
  const queries: Array<{ sql: string; values: unknown[] }> = [
    watermark === null ? { sql: select, values: [] } : { sql: `${select} WHERE ${cursorSql} >= ?`, values: [watermark] },
  ]
  if (recheckOpen && watermark !== null) {
    for (let i = 0; i < openIds.length; i += OPEN_IDS_PER_QUERY) {
      const ids = openIds.slice(i, i + OPEN_IDS_PER_QUERY)
      // Rows at or past the watermark already come from the first query.
      queries.push({ sql: `${select} WHERE ticket_id IN (?) AND (${cursorSql} < ? OR ${cursorSql} IS NULL)`, values: [ids, watermark] })
    }
  }

  // Each chunk on these object streams is a batch of 2,000 rows: one batch
  // of buffer per stage bounds memory (the default of 16 held ~100k rows).
  const toBronze = new Transform({
    objectMode: true,
    highWaterMark: 1,
    transform(rows: Record<string, string | null>[], _enc, cb) {
      const out: BronzeTicket[] = []
      for (const row of rows) {
        summary.rowsRead++
        const hash = rowHash(row)
        const id = String(row.ticket_id)
        const cursor = row._cursor_value
        if (cursor !== null && (maxCursor === null || cursor > maxCursor)) maxCursor = cursor
        if (known.get(id) === hash) {
          summary.rowsUnchanged++
          continue
        }
        selected++
        const b = { _cursor_value: cursor, _row_hash: hash } as BronzeTicket
        for (const [src, dst] of SOURCE_TO_BRONZE) b[dst] = row[src] ?? null
        out.push(b)
      }
      opts.onProgress?.({ type: 'rows', rows: rows.length })
      cb(null, out.length > 0 ? out : undefined)
    },
  })
  const sink = new TableStageSink<BronzeTicket>({
    store,
    keyPrefix: `${cfg.S3_STAGE_PREFIX}${TICKETS_SOURCE}/${runId}/`,
    columns: BRONZE_TICKET_CSV_COLUMNS,
    maxFileBytes: cfg.STAGE_FILE_MAX_BYTES,
    gzipLevel: opts.gzipLevel,
    signal,
  })

  const extractStarted = performance.now()
  try {
    await pipeline(Readable.from(readBatches(conn, queries), { highWaterMark: 1 }), toBronze, sink, { signal })
  } catch (err) {
    conn.destroy()
    if (signal?.aborted) throw err
    const code = (err as { code?: string }).code ?? ''
    if (code.startsWith('ER_') || code === 'PROTOCOL_CONNECTION_LOST' || code === 'ECONNRESET') {
      throw mysqlError(err, settings, 'lost the extraction from')
    }
    throw err
  }
  await closeMysql(conn)
  summary.extractSeconds = (performance.now() - extractStarted) / 1000
  const loadStarted = performance.now()

  const staged = sink.staged
  summary.stagedFiles = staged.files.length
  if (staged.rows !== selected) {
    throw new PipelineError('ERR_RECONCILE', `tickets: staged ${staged.rows} rows but selected ${selected}`)
  }
  if (staged.rows > 0) {
    const loadedAt = new Date().toISOString().replace('T', ' ').replace('Z', '')
    await wh.transaction(async (tx) => {
      const n = await tx.copyFromStage(
        {
          table: 'bronze.tickets',
          csvColumns: BRONZE_TICKET_CSV_COLUMNS,
          files: staged.files.map((f) => f.key),
          constants: { _extracted_at: extractedAt, _loaded_at: loadedAt, _run_id: runId },
        },
        signal,
      )
      if (n !== staged.rows) {
        throw new PipelineError('ERR_LOAD_RECONCILE', `bronze.tickets: staged ${staged.rows} rows but COPY loaded ${n}; nothing was committed`)
      }
      // New versus changed, from bronze itself: with an updated_at cursor the
      // run does not know every ticket loaded before.
      const [prior] = await tx.query(
        'SELECT count(DISTINCT ticket_id) AS n FROM bronze.tickets WHERE _run_id = ? AND ticket_id IN (SELECT ticket_id FROM bronze.tickets WHERE _run_id <> ?)',
        [runId, runId],
      )
      summary.changedTickets = Number(prior!.n)
      summary.newTickets = n - summary.changedTickets
      signal?.throwIfAborted()
      if (maxCursor !== null && maxCursor !== watermark) {
        await tx.run('DELETE FROM ops.watermarks WHERE source = ? AND cursor_column = ?', [TICKETS_SOURCE, cursorColumn])
        await tx.run('INSERT INTO ops.watermarks (source, cursor_column, value, run_id, updated_at) VALUES (?, ?, ?, ?, CAST(? AS TIMESTAMP))', [
          TICKETS_SOURCE,
          cursorColumn,
          maxCursor,
          runId,
          loadedAt,
        ])
      }
      await tx.run(
        `INSERT INTO ops.load_ledger (source, object_key, etag, size_bytes, blocks, rows_loaded, rejects, staged_files, run_id, loaded_at)
         VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, CAST(? AS TIMESTAMP))`,
        [
          TICKETS_SOURCE,
          `${SOURCE_TABLE}@${runId}`,
          maxCursor ?? '',
          staged.files.reduce((a, f) => a + f.bytes, 0),
          summary.rowsRead,
          n,
          JSON.stringify(staged.files.map((f) => f.key)),
          runId,
          loadedAt,
        ],
      )
    })
    summary.rows = staged.rows
    summary.watermarkTo = maxCursor
  }
  summary.loadSeconds = (performance.now() - loadStarted) / 1000
  summary.seconds = Number(process.hrtime.bigint() - started) / 1e9
  summary.rowsPerSec = summary.extractSeconds > 0 ? summary.rowsRead / summary.extractSeconds : 0
  return summary
}

/**
 * Streams each query's rows in order, in batches: mysql2's query stream
 * pauses the connection when it is not read, so backpressure reaches MySQL
 * and the result set never sits in memory.
 */
async function* readBatches(conn: Connection, queries: Array<{ sql: string; values: unknown[] }>): AsyncGenerator<Record<string, string | null>[]> {
  for (const q of queries) {
    const rows = conn.query({ sql: q.sql, values: q.values }).stream({ highWaterMark: ROWS_PER_BATCH })
    // A connection lost while the stream is paused (backpressure) is reported
    // on the connection only, and the paused stream would wait forever: hand
    // the error to the stream so the run fails.
    const onLost = (err: Error): void => void rows.destroy(err)
    conn.on('error', onLost)
    try {
      let batch: Record<string, string | null>[] = []
      for await (const row of rows as AsyncIterable<Record<string, string | null>>) {
        batch.push(row)
        if (batch.length === ROWS_PER_BATCH) {
          yield batch
          batch = []
        }
      }
      if (batch.length > 0) yield batch
    } finally {
      conn.off('error', onLost)
    }
  }
}
