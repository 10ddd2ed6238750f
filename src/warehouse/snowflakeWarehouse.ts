import type { Bind, Connection, ConnectionOptions, RowStatement, SnowflakeError } from 'snowflake-sdk'
import type { Config } from '../config.js'
import { oneLine, PipelineError } from '../errors.js'
import { ddlColumnTypes } from '../load/ddlColumnTypes.js'
import { copyResult, snowflakeCopyStatements } from '../load/snowflakeCopy.js'
import { currentQueryTag, queryTagText } from './queryTag.js'
import { ddlStatements } from './sqlFiles.js'
import { plainValue, type CopySpec, type Row, type Warehouse, type WarehouseTx } from './warehouse.js'

type Sdk = typeof import('snowflake-sdk')

/** What the engine needs from the configuration (validated there: names are plain identifiers). */
export interface SnowflakeSettings {
  account: string
  user: string
  /** Key-pair authentication (SNOWFLAKE_JWT) when set, else `password`. */
  privateKeyPath?: string
  privateKeyPassphrase?: string
  password?: string
  warehouse: string
  database: string
  role: string
  /** The external stage over `s3://<bucket>/<stagePrefix>`. */
  stage: string
  stagePrefix: string
  /** Unset: the account's own URL. */
  accessUrl?: string
}

export function snowflakeSettings(cfg: Config): SnowflakeSettings {
  if (!cfg.SNOWFLAKE_ACCOUNT || !cfg.SNOWFLAKE_USER) {
    // loadConfig checks this when WAREHOUSE=snowflake; a caller that skipped it gets the same line.
    throw new PipelineError('ERR_CONFIG', `missing setting ${cfg.SNOWFLAKE_ACCOUNT ? 'SNOWFLAKE_USER' : 'SNOWFLAKE_ACCOUNT'}: needed to connect to Snowflake`)
  }
  return {
    account: cfg.SNOWFLAKE_ACCOUNT,
    user: cfg.SNOWFLAKE_USER,
    privateKeyPath: cfg.SNOWFLAKE_PRIVATE_KEY_PATH,
    privateKeyPassphrase: cfg.SNOWFLAKE_PRIVATE_KEY_PASSPHRASE,
    password: cfg.SNOWFLAKE_PASSWORD,
    warehouse: cfg.SNOWFLAKE_WAREHOUSE,
    database: cfg.SNOWFLAKE_DATABASE,
    role: cfg.SNOWFLAKE_ROLE,
    stage: cfg.SNOWFLAKE_STAGE,
    stagePrefix: cfg.S3_STAGE_PREFIX,
    accessUrl: cfg.SNOWFLAKE_ACCESS_URL,
  }
}

let sdk: Promise<Sdk> | undefined

/** snowflake-sdk, loaded on first use (DuckDB runs never pay for it), with its own logging off. */
function loadSdk(): Promise<Sdk> {
  sdk ??= import('snowflake-sdk').then((m) => {
    const s = ((m as { default?: Sdk }).default ?? m) as Sdk
    // By default the driver writes ./snowflake.log and echoes to the console;
    // our errors carry what it would say, and its debug log may hold SQL text.
    s.configure({ logLevel: 'OFF', additionalLogToConsole: false })
    return s
  })
  return sdk
}

/**
 * Session parameters every connection starts with, whatever the account's
 * defaults: `TIMESTAMP` in the DDL is TIMESTAMP_NTZ holding UTC (how the
 * pipeline writes times), and times cast to text read as DuckDB prints them.
 */
const SESSION_SETUP = [
  `ALTER SESSION SET TIMEZONE = 'UTC'`,
  `ALTER SESSION SET TIMESTAMP_TYPE_MAPPING = 'TIMESTAMP_NTZ'`,
  `ALTER SESSION SET TIMESTAMP_NTZ_OUTPUT_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF3'`,
]

/** Rows per chunk of `stream()`. */
const STREAM_CHUNK_ROWS = 1000

/** Snowflake's result column names: unquoted identifiers come back upper-cased; ours are lower case. */
function columnName(name: string): string {
  return name === name.toUpperCase() ? name.toLowerCase() : name
}

/** Plain JS values, as DuckDbWarehouse returns them: the driver's SfDate becomes a Date. */
function plain(v: unknown): unknown {
  return v instanceof Date ? new Date(v.getTime()) : plainValue(v)
}

function toBinds(params: readonly unknown[] | undefined): Bind[] | undefined {
  if (!params || params.length === 0) return undefined
  return params.map((p): Bind => {
    if (p === null || p === undefined) return null
    if (typeof p === 'string' || typeof p === 'number' || typeof p === 'boolean') return p
    if (typeof p === 'bigint') return p.toString()
    if (p instanceof Date) return p.toISOString()
    return JSON.stringify(p)
  })
}

/** A statement Snowflake rejected: its error code, SQLSTATE and query id, kept for callers and messages. */
export class SnowflakeQueryError extends PipelineError {
  constructor(
    code: string,
    message: string,
    readonly snowflakeCode: string | undefined,
    readonly sqlState: string | undefined,
    readonly queryId: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(code, message, options)
  }
}

/**
 * The warehouse on Snowflake, through snowflake-sdk, with one session per
 * engine. A transaction is BEGIN … COMMIT on that session, so every statement
 * and transaction is serialised through `exclusive` (a statement of another
 * task sent while a transaction is open would join it). Every statement
 * carries a QUERY_TAG naming the run (see queryTag.ts).
 *
 * A session that is gone (expired, terminated, its connection lost for good)
 * fails the statement in flight and whatever transaction was open; the next
 * call logs in again. Statements are never replayed here: a task's retry is
 * the orchestrator's decision.
 */
export class SnowflakeWarehouse implements Warehouse {
  readonly engine = 'snowflake' as const
  private queue: Promise<unknown> = Promise.resolve()
  private conn: Connection | undefined
  private migrated: Promise<void> | undefined
  private closed = false
  private readonly types = ddlColumnTypes()

  private constructor(private readonly settings: SnowflakeSettings) {}

  /** Logs in (failing fast on bad credentials) and prepares the session. */
  static async open(settings: SnowflakeSettings): Promise<SnowflakeWarehouse> {
    const wh = new SnowflakeWarehouse(settings)
    await wh.exclusive(async () => {})
    return wh
  }

  /** The session's login name and account, for messages. */
  private get who(): string {
    return `user ${this.settings.user} on account ${this.settings.account}`
  }

  private async connect(): Promise<Connection> {
    const s = this.settings
    const sf = await loadSdk()
    const auth: ConnectionOptions = s.privateKeyPath
      ? { authenticator: 'SNOWFLAKE_JWT', privateKeyPath: s.privateKeyPath, privateKeyPass: s.privateKeyPassphrase }
      : { password: s.password ?? '' }
    let conn: Connection
    try {
      conn = sf.createConnection({
        account: s.account,
        username: s.user,
        ...auth,
        warehouse: s.warehouse,
        database: s.database,
        role: s.role,
        accessUrl: s.accessUrl,
        application: 'careplus',
        // A daemon holds its session between daily runs: keep it from expiring.
        clientSessionKeepAlive: true,
      })
    } catch (err) {
      throw new PipelineError('ERR_CONFIG', `invalid Snowflake connection settings: ${oneLine((err as Error).message)}`, { cause: err })
    }
    try {
      // connect(callback): connectAsync() resolves even when the login fails (its errors go to the callback).
      await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())))
    } catch (err) {
      const e = err as SnowflakeError
      const code = e.code !== undefined ? ` (${e.code})` : ''
      const where = s.accessUrl ? ` at ${s.accessUrl}` : ''
      throw new PipelineError('ERR_SNOWFLAKE_LOGIN', `Snowflake login failed for ${this.who}${where}: ${oneLine(e.message)}${code}`, { cause: err })
    }
    try {
      for (const sql of SESSION_SETUP) await this.execute(conn, sql, undefined)
    } catch (err) {
      conn.destroy(() => {})
      throw err
    }
    return conn
  }

  /** The live session, logging in again when the previous one is gone. */
  private async session(): Promise<Connection> {
    if (this.closed) throw new PipelineError('ERR_WAREHOUSE', 'the Snowflake warehouse is closed')
    if (this.conn?.isUp()) return this.conn
    const old = this.conn
    this.conn = undefined
    if (old) old.destroy(() => {})
    this.conn = await this.connect()
    return this.conn
  }

  private exclusive<T>(fn: (conn: Connection) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => fn(await this.session())
    const next = this.queue.then(run, run)
    this.queue = next.catch(() => {})
    return next
  }

  /** One statement; an abort of `signal` cancels it in Snowflake and rejects with the abort's reason. */
  private execute(
    conn: Connection,
    sql: string,
    params: readonly unknown[] | undefined,
    opts: { stream?: boolean; signal?: AbortSignal } = {},
  ): Promise<{ stmt: RowStatement; rows: Row[] }> {
    opts.signal?.throwIfAborted()
    return new Promise((resolve, reject) => {
      let onAbort: (() => void) | undefined
      try {
        const stmt = conn.execute({
          sqlText: sql,
          binds: toBinds(params),
          parameters: { QUERY_TAG: queryTagText(currentQueryTag()) },
          streamResult: opts.stream ?? false,
          rowMode: opts.stream ? 'array' : 'object',
          complete: (err, done, rows) => {
            if (onAbort) opts.signal?.removeEventListener('abort', onAbort)
            if (opts.signal?.aborted) reject(opts.signal.reason)
            else if (err) reject(this.statementError(conn, err))
            else resolve({ stmt: done as RowStatement, rows: (rows ?? []) as Row[] })
          },
        })
        if (opts.signal) {
          onAbort = () => stmt.cancel()
          opts.signal.addEventListener('abort', onAbort, { once: true })
        }
      } catch (err) {
        reject(this.statementError(conn, err as SnowflakeError))
      }
    })
  }

  private statementError(conn: Connection, err: SnowflakeError): PipelineError {
    const queryId = (err.data as { queryId?: string } | undefined)?.queryId
    const state = err.sqlState ? ` (${err.sqlState})` : ''
    const code = err.code !== undefined ? String(err.code) : undefined
    const qid = queryId ? ` [query ${queryId}]` : ''
    if (!conn.isUp()) {
      return new SnowflakeQueryError(
        'ERR_SNOWFLAKE_CONNECTION',
        `lost the Snowflake session of ${this.who}: ${oneLine(err.message)}${code ? ` (${code})` : ''}; the statement's transaction is rolled back, the next call logs in again`,
        code,
        err.sqlState,
        queryId,
        { cause: err },
      )
    }
    return new SnowflakeQueryError('ERR_SNOWFLAKE_QUERY', `Snowflake ${code ?? 'error'}${state}: ${oneLine(err.message)}${qid}`, code, err.sqlState, queryId, { cause: err })
  }

  private async runOn(conn: Connection, sql: string, params?: readonly unknown[]): Promise<number> {
    const { stmt } = await this.execute(conn, sql, params)
    const n = stmt.getNumUpdatedRows()
    return typeof n === 'number' && n > 0 ? n : 0
  }

  private async queryOn(conn: Connection, sql: string, params?: readonly unknown[], signal?: AbortSignal): Promise<Row[]> {
    const { rows } = await this.execute(conn, sql, params, { signal })
    return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [columnName(k), plain(v)])))
  }

  /** Creates the schemas and the bronze/ops tables when missing; once per engine (the DDL is idempotent). */
  migrate(): Promise<void> {
    this.migrated ??= this.exclusive(async (conn) => {
      for (const sql of ddlStatements()) await this.runOn(conn, sql)
    }).catch((err: unknown) => {
      this.migrated = undefined
      throw err
    })
    return this.migrated
  }

  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.exclusive((conn) => this.runOn(conn, sql, params))
  }

  query(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    return this.exclusive((conn) => this.queryOn(conn, sql, params))
  }

  transaction<T>(fn: (tx: WarehouseTx) => Promise<T>): Promise<T> {
    return this.exclusive(async (conn) => {
      await this.runOn(conn, 'BEGIN')
      const tx: WarehouseTx = {
        run: (sql, params) => this.runOn(conn, sql, params),
        query: (sql, params) => this.queryOn(conn, sql, params),
        copyFromStage: (spec, signal) => this.copyOn(conn, spec, signal),
      }
      try {
        const out = await fn(tx)
        await this.runOn(conn, 'COMMIT')
        return out
      } catch (err) {
        // On a lost session there is nothing to roll back: Snowflake already did.
        if (conn.isUp()) await this.runOn(conn, 'ROLLBACK').catch(() => {})
        throw err
      }
    })
  }

  async *stream(sql: string): AsyncIterable<{ columns: string[]; rows: unknown[][] }> {
    // Holding the queue for the whole iteration keeps other statements off the session.
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    const conn = await new Promise<Connection>((entered, failed) => {
      this.exclusive(async (c) => {
        entered(c)
        await held
      }).catch(failed)
    })
    try {
      const { stmt } = await this.execute(conn, sql, undefined, { stream: true })
      const columns = (stmt.getColumns() ?? []).map((c) => columnName(c.getName()))
      let rows: unknown[][] = []
      let sent = false
      for await (const row of stmt.streamRows() as AsyncIterable<unknown[]>) {
        rows.push(row.map(plain))
        if (rows.length === STREAM_CHUNK_ROWS) {
          yield { columns, rows }
          sent = true
          rows = []
        }
      }
      if (rows.length > 0 || !sent) yield { columns, rows }
    } finally {
      release()
    }
  }

  async close(): Promise<void> {
    // Waits for the statements queued before it; unlike exclusive(), never logs in again to do so.
    await this.queue
    this.closed = true
    const conn = this.conn
    this.conn = undefined
    if (conn?.isUp()) await new Promise<void>((resolve) => conn.destroy(() => resolve()))
  }

  /**
   * COPY INTO from the external stage, at most 1,000 files a statement (the
   * builder compile prints), then COPY's per-file result: LOADED files'
   * rows are the rows loaded; a LOAD_FAILED or PARTIALLY_LOADED file fails
   * the load with Snowflake's first error, line and column; a file missing
   * from the result was skipped by Snowflake's load metadata (loaded before,
   * and not forced), which fails the load too rather than loading less than
   * was staged.
   */
  private async copyOn(conn: Connection, spec: CopySpec, signal?: AbortSignal): Promise<number> {
    if (spec.files.length === 0) return 0
    const types = this.types.get(spec.table)
    if (!types) throw new PipelineError('ERR_WAREHOUSE', `no DDL for ${spec.table} in sql/ddl`)
    const { stage, stagePrefix } = this.settings
    let loaded = 0
    for (const batch of snowflakeCopyStatements(spec, types, { stage, stagePrefix })) {
      // A cancelled run cancels its COPY in Snowflake rather than waiting for it.
      const rows = await this.queryOn(conn, batch.sql, undefined, signal)
      loaded += copyResult(spec.table, stagePrefix, batch.files, rows)
    }
    return loaded
  }
}
