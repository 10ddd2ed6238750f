import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { TableStageSink } from '../../sinks/tableStageSink.js'
import type { Config } from '../config.js'
import { PipelineError } from '../errors.js'
import { BRONZE_TICKETS, TICKET_CSV_COLUMNS } from '../load/bronzeSchema.js'
import { commitLoad } from '../load/commitLoad.js'
import { sqlTimestamp } from '../load/sqlTimestamp.js'
import { removeStageLeftovers } from '../load/stageLeftovers.js'
import { ticketRunFolder } from '../load/stageLayout.js'
import { newRunId } from '../runId.js'
import type { ObjectStore } from '../s3/objectStore.js'
import { closeMysql, connectMysql, destroyMysql, mysqlError, MysqlReadWatch, mysqlSettings } from '../sources/mysql.js'
import { readTicketCursor, TICKETS_SOURCE } from '../sources/tickets/cursor.js'
import { countMissedBeforeWindow, type MissedDay } from '../sources/tickets/lookback.js'
import { changeFilter, extractionQueries, readBatches, type BronzeTicket, type ChangeCounts } from '../sources/tickets/extract.js'
import { SOURCE_TABLE } from '../sources/tickets/schema.js'
import { withQueryTag } from '../warehouse/queryTag.js'
import type { Warehouse } from '../warehouse/warehouse.js'

export { TICKETS_SOURCE } from '../sources/tickets/cursor.js'

export interface IngestTicketsSummary {
  runId: string
  /** The cursor column and the watermark before and after the run. */
  cursorColumn: string
  watermarkFrom: string | null
  watermarkTo: string | null
  /** Whether the whole table was read (--full-refresh, or the first run). */
  fullRefresh: boolean
  /** The inclusive start of the read: watermarkFrom minus TICKETS_LOOKBACK; null when the whole table was read. */
  windowFrom: string | null
  /** Rows read from MySQL: the window, rows with no cursor value, re-read open tickets. */
  rowsRead: number
  /** Rows read with a NULL cursor value (read on every run). */
  nullCursorRows: number
  /**
   * Tickets in MySQL with a cursor value before windowFrom that bronze does
   * not have: late rows the window did not reach. Only --full-refresh loads
   * them. A lower bound, counted day by day (see missedDays).
   */
  missedBeforeWindow: number
  /** The earliest days with missed tickets (at most 31 listed). */
  missedDays: MissedDay[]
  /** Bytes of the rows staged, as CSV before gzip (the driver counts no bytes read). */
  bytes: number
  /** Rows read that equal the version already in bronze (the watermark overlap, unchanged open tickets). */
  rowsUnchanged: number
  /** Rows appended to bronze: new tickets plus changed versions of known ones. */
  rows: number
  newTickets: number
  changedTickets: number
  openTicketsRechecked: number
  stagedFiles: number
  /** Staged files of earlier runs that never committed (killed, failed), removed before this run staged its own. */
  leftoversRemoved: number
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
  /** Read the whole table, not only the window (still deduplicated by row hash). */
  fullRefresh?: boolean
  onProgress?: (p: { type: 'rows'; rows: number }) => void
  gzipLevel?: number
}

/**
 * One incremental run of the ticket ingest:
 * cursor state (src/sources/tickets/cursor.ts) → MySQL streaming cursor and
 * change filter (extract.ts) → CSV → gzip → stage → commitLoad into
 * bronze.tickets, with the watermark moved in the same transaction.
 *
 * Better than the seed's `created_at > MAX(created_at)`: the cursor is
 * inclusive and reaches TICKETS_LOOKBACK below the watermark (late rows
 * arrive), rows with no cursor value are read on every run, every ticket
 * still open at its last load is read again so its resolution arrives, and a
 * row identical to its loaded version is not appended again, so a run with
 * no changes stages nothing. Late rows older than the window are counted
 * (missedBeforeWindow); --full-refresh reads them. With
 * TICKETS_CURSOR_COLUMN (an `updated_at`-like column) the cursor alone finds
 * changed rows.
 */
export function ingestTickets(opts: IngestTicketsOptions): Promise<IngestTicketsSummary> {
  const runId = opts.runId ?? newRunId()
  // Every warehouse statement of the run is tagged with its id (Snowflake's QUERY_TAG).
  return withQueryTag({ run_id: runId, task: 'ingest-tickets' }, () => ingestTicketsRun({ ...opts, runId }))
}

async function ingestTicketsRun(opts: IngestTicketsOptions & { runId: string }): Promise<IngestTicketsSummary> {
  const { cfg, store, warehouse: wh, signal, runId } = opts
  const started = process.hrtime.bigint()
  // The source first: a wrong MYSQL_HOST/MYSQL_PORT or password fails the run before anything else is done.
  const settings = mysqlSettings(cfg)
  const conn = await connectMysql(settings, signal)
  // From here a cancel ends the connection at once, and a silent one fails after MYSQL_READ_TIMEOUT_MS.
  const watch = new MysqlReadWatch(conn, settings, signal)
  let cursor: Awaited<ReturnType<typeof readTicketCursor>>
  let leftovers: Awaited<ReturnType<typeof removeStageLeftovers>>
  try {
    await wh.migrate()
    leftovers = await removeStageLeftovers(store, wh, { stagePrefix: cfg.S3_STAGE_PREFIX, source: 'tickets', currentRunId: runId, signal })
    cursor = await readTicketCursor(wh, cfg, { fullRefresh: opts.fullRefresh })
  } catch (err) {
    watch.stop()
    destroyMysql(conn)
    throw err
  }
  const extractedAt = sqlTimestamp()
  const counts: ChangeCounts = { rowsRead: 0, rowsUnchanged: 0, nullCursorRows: 0, selected: 0, maxCursor: cursor.watermark }
  const sink = new TableStageSink<BronzeTicket>({
    store,
    keyPrefix: ticketRunFolder(cfg.S3_STAGE_PREFIX, runId),
    columns: TICKET_CSV_COLUMNS,
    maxFileBytes: cfg.STAGE_FILE_MAX_BYTES,
    gzipLevel: opts.gzipLevel,
    signal,
  })

  const extractStarted = performance.now()
  let missed: { total: number; days: MissedDay[] } = { total: 0, days: [] }
  try {
    if (cursor.from !== null) missed = await countMissedBeforeWindow(conn, watch, wh, cursor.column, cursor.from, signal)
    await pipeline(
      Readable.from(readBatches(conn, extractionQueries(cursor), watch), { highWaterMark: 1 }),
      changeFilter(cursor, counts, (rows) => opts.onProgress?.({ type: 'rows', rows })),
      sink,
      { signal },
    )
  } catch (err) {
    destroyMysql(conn)
    if (signal?.aborted) throw err
    const code = (err as { code?: string }).code ?? ''
    if (code.startsWith('ER_') || code === 'PROTOCOL_CONNECTION_LOST' || code === 'ECONNRESET' || code === 'ERR_MYSQL_TIMEOUT') {
      throw mysqlError(err, settings, 'lost the extraction from')
    }
    throw err
  } finally {
    watch.stop()
  }
  await closeMysql(conn)
  const extractSeconds = (performance.now() - extractStarted) / 1000

  const loadStarted = performance.now()
  const staged = sink.staged
  if (staged.rows !== counts.selected) {
    throw new PipelineError('ERR_RECONCILE', `tickets: staged ${staged.rows} rows but selected ${counts.selected}`)
  }
  let changedTickets = 0
  if (staged.rows > 0) {
    const files = staged.files.map((f) => f.key)
    changedTickets = await wh.transaction(async (tx) => {
      await commitLoad(
        tx,
        {
          source: TICKETS_SOURCE,
          ctx: { runId, loadedAt: sqlTimestamp(), extractedAt },
          targets: [{ table: BRONZE_TICKETS, files, rows: staged.rows }],
          // One ledger row per extraction: what it read, up to which cursor value.
          objects: [
            {
              key: `${SOURCE_TABLE}@${runId}`,
              etag: counts.maxCursor ?? '',
              sizeBytes: staged.files.reduce((a, f) => a + f.bytes, 0),
              blocks: counts.rowsRead,
              rows: staged.rows,
              rejects: 0,
              stagedFiles: files,
            },
          ],
          watermark: counts.maxCursor !== null && counts.maxCursor !== cursor.watermark ? { cursorColumn: cursor.column, value: counts.maxCursor } : undefined,
        },
        signal,
      )
      // New versus changed, from bronze itself: with an updated_at cursor the run does not know every ticket loaded before.
      const [prior] = await tx.query(
        'SELECT count(DISTINCT ticket_id) AS n FROM bronze.tickets WHERE _run_id = ? AND ticket_id IN (SELECT ticket_id FROM bronze.tickets WHERE _run_id <> ?)',
        [runId, runId],
      )
      return Number(prior!.n)
    })
  }
  const loadSeconds = (performance.now() - loadStarted) / 1000
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return {
    runId,
    cursorColumn: cursor.column,
    watermarkFrom: cursor.watermark,
    bytes: staged.csvBytes,
    watermarkTo: staged.rows > 0 ? counts.maxCursor : cursor.watermark,
    fullRefresh: cursor.from === null,
    windowFrom: cursor.from,
    rowsRead: counts.rowsRead,
    nullCursorRows: counts.nullCursorRows,
    missedBeforeWindow: missed.total,
    missedDays: missed.days,
    rowsUnchanged: counts.rowsUnchanged,
    rows: staged.rows,
    newTickets: staged.rows - changedTickets,
    changedTickets,
    openTicketsRechecked: cursor.recheckOpen && cursor.from !== null ? cursor.openIds.length : 0,
    stagedFiles: staged.files.length,
    leftoversRemoved: leftovers.length,
    extractSeconds,
    loadSeconds,
    seconds,
    rowsPerSec: extractSeconds > 0 ? counts.rowsRead / extractSeconds : 0,
  }
}
