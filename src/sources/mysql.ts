import type { Socket } from 'node:net'
import mysql, { type Connection, type ConnectionOptions } from 'mysql2'
import type { Config } from '../config.js'
import { PipelineError } from '../errors.js'

export interface MysqlSettings {
  host: string
  port: number
  user: string
  password: string
  database?: string
  /** MYSQL_READ_TIMEOUT_MS: no byte for this long while waiting on the server fails the wait (unset: no limit). */
  readTimeoutMs?: number
}

export function mysqlSettings(cfg: Config, opts: { withDatabase?: boolean } = {}): MysqlSettings {
  return {
    host: cfg.MYSQL_HOST,
    port: cfg.MYSQL_PORT,
    user: cfg.MYSQL_USER,
    password: cfg.MYSQL_PASSWORD,
    database: opts.withDatabase === false ? undefined : cfg.MYSQL_DATABASE,
    readTimeoutMs: cfg.MYSQL_READ_TIMEOUT_MS,
  }
}

/** `user@host:port`, for messages: never the password. */
export function describeMysql(s: MysqlSettings): string {
  return `MySQL at ${s.host}:${s.port} as user "${s.user}"`
}

/**
 * One line a user can act on, naming host, port and user, never the password.
 * The code stays ERR_MYSQL; whether a retry helps is the wrapped driver
 * error's (errors.ts isTransient): a refused connection to the configured
 * address is a setting to fix, a connection lost mid-way is worth a retry.
 */
export function mysqlError(err: unknown, s: MysqlSettings, what = 'cannot connect to'): PipelineError {
  const e = err as { code?: string; message?: string; sqlMessage?: string }
  const where = describeMysql(s)
  let detail: string
  // Already one line a user can act on (a read timeout, a cancel).
  if (err instanceof PipelineError) return err
  switch (e.code) {
    case 'ECONNREFUSED':
      detail = 'connection refused (check MYSQL_HOST and MYSQL_PORT; is the server running? MariaDB: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd)'
      break
    case 'ETIMEDOUT':
      detail = 'connection timed out (check MYSQL_HOST, MYSQL_PORT and the network)'
      break
    case 'ENOTFOUND':
      detail = 'unknown host (check MYSQL_HOST)'
      break
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR':
    case 'ER_DBACCESS_DENIED_ERROR':
      detail = 'access denied (check MYSQL_USER and MYSQL_PASSWORD)'
      break
    case 'ER_BAD_DB_ERROR':
      detail = `database "${s.database}" does not exist (careplus generate --tickets creates a sample one)`
      break
    case 'ER_NO_SUCH_TABLE':
      detail = `${e.sqlMessage ?? e.message} (careplus generate --tickets creates a sample one)`
      break
    default:
      detail = `${e.code ?? 'error'}: ${e.sqlMessage ?? e.message ?? String(err)}`
  }
  return new PipelineError('ERR_MYSQL', `${what} ${where}: ${detail}`, { cause: err })
}

/**
 * Opens one connection (the callback API: its `query().stream()` is the
 * streaming cursor). An abort `signal` ends a handshake still under way.
 */
export async function connectMysql(s: MysqlSettings, signal?: AbortSignal): Promise<Connection> {
  signal?.throwIfAborted()
  const options: ConnectionOptions = {
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    database: s.database,
    charset: 'utf8mb4',
    // Keep every value as the server's text: DATETIME cursors as 'YYYY-MM-DD HH:MM:SS', big numbers as strings.
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    connectTimeout: 10_000,
  }
  const conn = mysql.createConnection(options)
  // Without a listener a server-side disconnect between queries (or a second
  // error after a failed handshake) would crash the process.
  conn.on('error', () => {})
  const onAbort = (): void => destroyMysql(conn, signal!.reason as Error)
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())))
  } catch (err) {
    destroyMysql(conn)
    if (signal?.aborted) throw signal.reason
    throw mysqlError(err, s)
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
  return conn
}

/** The connection's socket (mysql2 keeps it as `stream`). */
function socketOf(conn: Connection): Socket {
  return (conn as unknown as { stream: Socket }).stream
}

/**
 * Ends a connection at once, its socket closed both ways, and fails the
 * command waiting on it with `err`. mysql2's own destroy() only half-closes
 * (it sends FIN and waits): across a silent partition the FIN is never
 * answered, the waiting query never settles and the socket keeps the
 * process alive.
 */
export function destroyMysql(conn: Connection, err?: Error): void {
  const socket = socketOf(conn)
  if (!socket.destroyed) socket.destroy(err)
}

export function mysqlTimeoutError(s: MysqlSettings): PipelineError {
  return new PipelineError(
    'ERR_MYSQL_TIMEOUT',
    `${describeMysql(s)} sent nothing for ${s.readTimeoutMs} ms (MYSQL_READ_TIMEOUT_MS): the network or the server stalled; transient, a retry may succeed`,
  )
}

/**
 * A watchdog on the bytes a connection receives: while armed, a socket that
 * delivers nothing for `readTimeoutMs` is destroyed with ERR_MYSQL_TIMEOUT,
 * which fails the waiting command. A streaming reader disarms it while it
 * holds rows back (backpressure is not a stall). An abort `signal` destroys
 * the connection too, with the signal's reason, so a cancel never waits on a
 * stalled socket.
 */
export class MysqlReadWatch {
  private timer: NodeJS.Timeout | undefined
  private readonly onData = (): void => void this.timer?.refresh()
  private readonly onAbort = (): void => destroyMysql(this.conn, this.signal?.reason as Error)

  constructor(
    private readonly conn: Connection,
    private readonly settings: MysqlSettings,
    private readonly signal?: AbortSignal,
  ) {
    socketOf(conn).on('data', this.onData)
    signal?.addEventListener('abort', this.onAbort, { once: true })
    if (signal?.aborted) this.onAbort()
  }

  arm(): void {
    const ms = this.settings.readTimeoutMs
    if (ms === undefined || this.timer !== undefined) return
    this.timer = setTimeout(() => destroyMysql(this.conn, mysqlTimeoutError(this.settings)), ms)
  }

  disarm(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Runs `wait` armed. */
  async during<T>(wait: () => Promise<T>): Promise<T> {
    this.arm()
    try {
      return await wait()
    } finally {
      this.disarm()
    }
  }

  stop(): void {
    this.disarm()
    socketOf(this.conn).off('data', this.onData)
    this.signal?.removeEventListener('abort', this.onAbort)
  }
}

export function queryMysql<T = Record<string, unknown>>(conn: Connection, sql: string, values: unknown[] = []): Promise<T[]> {
  return new Promise((resolve, reject) => conn.query(sql, values, (err, rows) => (err ? reject(err) : resolve(rows as T[]))))
}

/**
 * Says goodbye (COM_QUIT: mysql2 sends it without waiting for an answer),
 * then closes the socket both ways, so a silent server cannot hold it open.
 */
export async function closeMysql(conn: Connection): Promise<void> {
  await new Promise<void>((resolve) => conn.end(() => resolve()))
  destroyMysql(conn)
}
