/**
 * The shape of one parsed log block. Field names and order are the
 * `bronze.logs` columns; `_source_file` / `_source_line` are lineage.
 */
export const LOG_COLUMNS = [
  'timestamp',
  'log_level',
  'service',
  'ticket_id',
  'session_id',
  'ip',
  'response_time_ms',
  'cpu_percent',
  'event_type',
  'error',
  'user_agent',
  'message',
  'debug',
  'trace_id',
  '_source_file',
  '_source_line',
] as const

export interface LogRecord {
  /** `YYYY-MM-DD HH:MM:SS`, validated as a real calendar time. */
  timestamp: string
  /** Raw level as written (`INFO`, `INF0`, `warnING`, …): cleaning is silver's job. */
  log_level: string
  service: string
  ticket_id: string
  session_id: string
  ip: string
  /** Integer milliseconds, negative values kept as written. */
  response_time_ms: number
  cpu_percent: number
  event_type: string
  /** Raw `Error=` value (`false`, `true`, …). */
  error: string
  user_agent: string
  message: string
  debug: string
  /** Raw `TraceID=` value, `None` kept as written. */
  trace_id: string
  _source_file: string
  /** 1-based line number of the block's first line in the source object. */
  _source_line: number
}

export const REJECT_COLUMNS = ['_source_file', '_source_line', 'reason', 'raw'] as const

export interface LogReject {
  _source_file: string
  _source_line: number
  /** Machine-readable code, then a human detail: `too_few_lines: expected 6 lines, got 4`. */
  reason: string
  /** The block's raw text, capped (see `maxRejectRawBytes`). */
  raw: string
}

/** What the parser emits per input chunk: batching keeps per-object stream overhead off the hot path. */
export interface ParseBatch {
  rows: LogRecord[]
  rejects: LogReject[]
}
