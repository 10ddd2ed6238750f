/**
 * Whether a retry can help, per error code. `transient`: the same work may
 * succeed if tried again (a dropped connection, a timeout, throttling, a
 * lock); `permanent`: it fails the same way until someone changes something
 * (configuration, credentials, schema, data that fails a test, counts that
 * do not reconcile); `cause`: the code names where the error happened, and
 * the driver error it wraps decides (see isTransient).
 */
const ERROR_CLASSES = {
  ERR_CANCELLED: 'permanent',
  ERR_CONFIG: 'permanent',
  ERR_USAGE: 'permanent',
  ERR_NOT_BUILT: 'permanent',
  ERR_DAEMON_PORT: 'permanent',
  ERR_CORRUPT_INPUT: 'permanent',
  ERR_IS_DIRECTORY: 'permanent',
  ERR_NO_SUCH_PATH: 'permanent',
  ERR_NO_LOG_FILES: 'permanent',
  ERR_EMBEDDED_S3: 'permanent',
  ERR_S3: 'cause',
  ERR_OBJECT_UNREADABLE: 'cause',
  // The object changed or came back short while read, after the reader's own resumes: a new attempt reads it whole.
  ERR_OBJECT_CHANGED: 'transient',
  ERR_OBJECT_TRUNCATED: 'transient',
  ERR_OBJECT_CORRUPT: 'permanent',
  ERR_OBJECT_GONE: 'permanent',
  ERR_TOO_MANY_FAILED_OBJECTS: 'permanent',
  ERR_MYSQL: 'cause',
  // No byte from MySQL for MYSQL_READ_TIMEOUT_MS: a silent partition, which a new connection may not meet.
  ERR_MYSQL_TIMEOUT: 'transient',
  ERR_WAREHOUSE: 'cause',
  ERR_WAREHOUSE_LOCKED: 'transient',
  ERR_QUERY: 'permanent',
  ERR_SETUP: 'cause',
  ERR_SNOWFLAKE_LOGIN: 'permanent',
  ERR_SNOWFLAKE_UNREACHABLE: 'transient',
  ERR_SNOWFLAKE_QUERY: 'cause',
  ERR_SNOWFLAKE_CONNECTION: 'transient',
  ERR_SNOWFLAKE_STREAM_STALLED: 'transient',
  ERR_MODEL: 'permanent',
  ERR_MODEL_GRAPH: 'permanent',
  ERR_DATA_TEST: 'permanent',
  ERR_DATA_TEST_QUERY: 'permanent',
  ERR_LOAD_FAILED: 'permanent',
  ERR_LOAD_SKIPPED: 'permanent',
  ERR_LOAD_RECONCILE: 'permanent',
  ERR_RECONCILE: 'permanent',
  ERR_RUN_FAILED: 'permanent',
  // The orchestrator's own: a task that ran past PIPELINE_TASK_TIMEOUT_MS, a worker that died without a word.
  ERR_TASK_TIMEOUT: 'transient',
  // The control API (src/daemon/controlServer.ts) and its client: a daemon that stopped answering, a run already going.
  ERR_DAEMON: 'transient',
  ERR_RUN_IN_PROGRESS: 'transient',
  ERR_NOT_FOUND: 'permanent',
  ERR_READ_ONLY: 'permanent',
  ERR_UNAUTHORIZED: 'permanent',
  ERR_BODY_TOO_LARGE: 'permanent',
  ERR_BAD_JSON: 'permanent',
  ERR_BAD_REQUEST: 'permanent',
  ERR_METHOD: 'permanent',
  ERR_WORKER_EXITED: 'transient',
} as const satisfies Record<string, 'transient' | 'permanent' | 'cause'>

export type ErrorCode = keyof typeof ERROR_CLASSES

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CLASSES, code)
}

/**
 * Errors a user can act on carry a stable `code`; the CLI prints their message
 * as one line and exits non-zero. Anything without a code is a bug and gets a
 * stack trace under LOG_LEVEL=debug.
 */
export class PipelineError extends Error {
  readonly code: ErrorCode
  /** Set when the class is known apart from the code (an error that crossed a thread boundary). */
  readonly transient?: boolean
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; transient?: boolean }) {
    super(message, options)
    this.code = code
    this.name = 'PipelineError'
    if (options?.transient !== undefined) this.transient = options.transient
  }
}

/** Driver and system error codes of faults a new attempt can get past. */
const TRANSIENT_DRIVER_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  // mysql2: the server went away, or a statement waited too long for a lock.
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  // Snowflake: a lock wait or a statement past its timeout, a session that expired.
  '000625',
  '000630',
  '390114',
])

/** S3's names for "slow down" and for its own passing faults. */
const TRANSIENT_S3_NAMES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable'])

/**
 * Whether a retry can help with `err`: a PipelineError by its code's class
 * (or the driver error it wraps), a raw driver error by its code (ECONNRESET,
 * EPIPE, ETIMEDOUT, mysql2's PROTOCOL_CONNECTION_LOST…), an S3 error by its
 * status (5xx, 429) or name (SlowDown), a DuckDB error by its lock message.
 * Anything unknown is permanent: retrying a bug only repeats it.
 */
export function isTransient(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 8 || isAbortError(err)) return false
  const e = err as { code?: unknown; name?: string; message?: string; cause?: unknown; transient?: unknown; $metadata?: { httpStatusCode?: number } }
  if (typeof e.transient === 'boolean') return e.transient
  if (err instanceof PipelineError || isErrorCode(e.code)) {
    const cls = ERROR_CLASSES[e.code as ErrorCode]
    if (cls !== 'cause') return cls === 'transient'
    return isTransient(e.cause, depth + 1)
  }
  if ((typeof e.code === 'string' || typeof e.code === 'number') && TRANSIENT_DRIVER_CODES.has(String(e.code))) return true
  const status = e.$metadata?.httpStatusCode
  if (typeof status === 'number') return status >= 500 || status === 429 || status === 408
  if (e.name && TRANSIENT_S3_NAMES.has(e.name)) return true
  // DuckDB: another process holds the file, or a write conflicted with a concurrent one.
  if (/Could not set lock on file|Conflicting lock|Transaction conflict/i.test(e.message ?? '')) return true
  return e.cause !== undefined && isTransient(e.cause, depth + 1)
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { code?: string }).code === 'ABORT_ERR')
}

/** A multi-line message (a driver's, a server's) as one line. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim()
}
