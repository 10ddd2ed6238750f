/**
 * Where the ticket extraction stands: the watermark, and which tickets it
 * must read again. bronze.tickets is append-only, so a ticket's state is its
 * latest version, and "latest" and "open" mean exactly what silver.stg_tickets
 * says (sql/models/silver/stg_tickets.sql; test/sources/tickets/cursor.test.ts
 * checks the two texts match).
 */
import type { Config } from '../../config.js'
import { readWatermark } from '../../load/watermarks.js'
import type { Warehouse } from '../../warehouse/warehouse.js'
import { windowStart } from './lookback.js'

export const TICKETS_SOURCE = 'tickets'

/** The latest version of a ticket: the highest `_extracted_at`, then `_run_id`. */
export const LATEST_VERSION_ORDER = '_extracted_at DESC, _run_id DESC'

/** An open ticket: no resolution in the source, NULL or blank. */
export const IS_OPEN = "(resolved_at IS NULL OR TRIM(resolved_at) = '')"

export interface TicketCursor {
  /** The column new rows are found by: TICKETS_CURSOR_COLUMN, else `created_at`. */
  column: string
  /** The highest cursor value loaded; null before the first load. */
  watermark: string | null
  /**
   * The inclusive lower bound of this run's read: the watermark minus
   * TICKETS_LOOKBACK. Null: the whole table (the first run, --full-refresh).
   */
  from: string | null
  /** Without an update-tracking cursor, tickets open at their last load are read again so their resolution arrives. */
  recheckOpen: boolean
  /** Row hashes of loaded versions a read may repeat (the window, NULL cursors, open tickets; all on a full refresh): unchanged rows are not appended again. */
  known: Map<string, string>
  /** Tickets open in their latest loaded version. */
  openIds: string[]
}

export async function readTicketCursor(wh: Warehouse, cfg: Config, opts: { fullRefresh?: boolean; source?: string } = {}): Promise<TicketCursor> {
  const column = cfg.TICKETS_CURSOR_COLUMN ?? 'created_at'
  const recheckOpen = cfg.TICKETS_CURSOR_COLUMN === undefined
  const watermark = await readWatermark(wh, opts.source ?? TICKETS_SOURCE, column)
  const from = watermark === null || opts.fullRefresh ? null : windowStart(watermark, cfg.TICKETS_LOOKBACK, column)
  const known = new Map<string, string>()
  const openIds: string[] = []
  if (watermark !== null) {
    const repeated = from === null ? 'TRUE' : `_cursor_value >= ? OR _cursor_value IS NULL${recheckOpen ? ` OR ${IS_OPEN}` : ''}`
    const latest = await wh.query(
      `SELECT ticket_id, _row_hash, ${IS_OPEN} AS is_open FROM (
         SELECT ticket_id, resolved_at, _cursor_value, _row_hash,
                ROW_NUMBER() OVER (PARTITION BY ticket_id ORDER BY ${LATEST_VERSION_ORDER}) AS version_rank
         FROM bronze.tickets) latest
       WHERE version_rank = 1 AND (${repeated})`,
      from === null ? [] : [from],
    )
    for (const r of latest) {
      known.set(String(r.ticket_id), String(r._row_hash))
      if (r.is_open) openIds.push(String(r.ticket_id))
    }
  }
  return { column, watermark, from, recheckOpen, known, openIds }
}
