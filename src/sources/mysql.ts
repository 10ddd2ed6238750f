import mysql, { type Connection, type ConnectionOptions } from 'mysql2'
import type { Config } from '../config.js'
import { PipelineError } from '../errors.js'

export interface MysqlSettings {
  host: string
  port: number
  user: string
  password: string
  database?: string
}

export function mysqlSettings(cfg: Config, opts: { withDatabase?: boolean } = {}): MysqlSettings {
  return {
    host: cfg.MYSQL_HOST,
    port: cfg.MYSQL_PORT,
    user: cfg.MYSQL_USER,
    password: cfg.MYSQL_PASSWORD,
    database: opts.withDatabase === false ? undefined : cfg.MYSQL_DATABASE,
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

/** Opens one connection (the callback API: its `query().stream()` is the streaming cursor). */
export async function connectMysql(s: MysqlSettings): Promise<Connection> {
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
  try {
    await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())))
  } catch (err) {
    conn.destroy()
    throw mysqlError(err, s)
  }
  // Without a listener a server-side disconnect between queries would crash the process.
  conn.on('error', () => {})
  return conn
}

export function queryMysql<T = Record<string, unknown>>(conn: Connection, sql: string, values: unknown[] = []): Promise<T[]> {
  return new Promise((resolve, reject) => conn.query(sql, values, (err, rows) => (err ? reject(err) : resolve(rows as T[]))))
}

export function closeMysql(conn: Connection): Promise<void> {
  return new Promise<void>((resolve) => conn.end(() => resolve())).then(() => conn.destroy())
}
