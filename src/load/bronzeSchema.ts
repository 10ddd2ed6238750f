/**
 * The bronze tables as the loaders see them, stated once: for each table the
 * columns its staged CSV files carry (in file order, the header row) and the
 * columns every load fills with one value for the whole COPY. Together they
 * are the table's columns in DDL order (sql/ddl; test/load/bronzeSchema.test.ts
 * checks that). The parser's fields come from the log format
 * (parsers/logRecord.ts), the tickets' from the source table
 * (src/sources/tickets/schema.ts).
 */
import { LOG_COLUMNS, REJECT_COLUMNS } from '../../parsers/logRecord.js'
import { TICKET_BRONZE_SOURCE_COLUMNS } from '../sources/tickets/schema.js'

/** What one load knows once, for the constant columns. */
export interface LoadContext {
  runId: string
  /** `YYYY-MM-DD HH:MM:SS.mmm` UTC (sqlTimestamp). */
  loadedAt: string
  /** When the source was read (tickets), same format. */
  extractedAt?: string
}

export interface BronzeTable {
  /** Schema-qualified name. */
  readonly name: string
  readonly csvColumns: readonly string[]
  /** Column → its value for one load. */
  readonly constants: Readonly<Record<string, (ctx: LoadContext) => string>>
}

const loadedAt = (ctx: LoadContext): string => ctx.loadedAt
const runId = (ctx: LoadContext): string => ctx.runId

export const BRONZE_LOGS = {
  name: 'bronze.logs',
  csvColumns: LOG_COLUMNS,
  constants: { _loaded_at: loadedAt, _run_id: runId },
} as const satisfies BronzeTable

export const BRONZE_LOG_REJECTS = {
  name: 'bronze.log_rejects',
  csvColumns: REJECT_COLUMNS,
  constants: { _loaded_at: loadedAt, _run_id: runId },
} as const satisfies BronzeTable

/** The ticket's source columns, then its version: the cursor value it was read at and its row hash. */
export const TICKET_CSV_COLUMNS = [...TICKET_BRONZE_SOURCE_COLUMNS, '_cursor_value', '_row_hash'] as const

export const BRONZE_TICKETS = {
  name: 'bronze.tickets',
  csvColumns: TICKET_CSV_COLUMNS,
  constants: {
    _extracted_at: (ctx: LoadContext) => {
      if (ctx.extractedAt === undefined) throw new Error('bronze.tickets loads need extractedAt')
      return ctx.extractedAt
    },
    _loaded_at: loadedAt,
    _run_id: runId,
  },
} as const satisfies BronzeTable

export const BRONZE_TABLES: readonly BronzeTable[] = [BRONZE_LOGS, BRONZE_LOG_REJECTS, BRONZE_TICKETS]

/** The constant columns' values of one load into `table`. */
export function loadConstants(table: BronzeTable, ctx: LoadContext): Record<string, string> {
  return Object.fromEntries(Object.entries(table.constants).map(([c, value]) => [c, value(ctx)]))
}

/** The column in each log table that names the source object: lineage, and the key a changed object's old rows are replaced by. */
export const SOURCE_FILE_COLUMN = '_source_file'
