import { lookup } from 'node:dns/promises'
import type { Readable } from 'node:stream'
import type { Bind, Connection, ConnectionOptions, DataType, RowStatement, SnowflakeError } from 'snowflake-sdk'
import type { Config } from '../config.js'
import { oneLine, PipelineError, type ErrorCode } from '../errors.js'
import { assertReadOnlySql } from './readOnlySql.js'
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
  /** A login not done after this many seconds fails (SNOWFLAKE_LOGIN_TIMEOUT_SECONDS). */
  loginTimeoutSeconds: number
  /** The session's STATEMENT_TIMEOUT_IN_SECONDS and LOCK_TIMEOUT. */
  statementTimeoutSeconds: number
  lockTimeoutSeconds: number
  /** stream(): a result delivering no row for this long fails (SNOWFLAKE_STREAM_IDLE_TIMEOUT_SECONDS). */
  streamIdleTimeoutSeconds: number
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
    loginTimeoutSeconds: cfg.SNOWFLAKE_LOGIN_TIMEOUT_SECONDS,
    statementTimeoutSeconds: cfg.SNOWFLAKE_STATEMENT_TIMEOUT_IN_SECONDS,
    lockTimeoutSeconds: cfg.SNOWFLAKE_LOCK_TIMEOUT,
    streamIdleTimeoutSeconds: cfg.SNOWFLAKE_STREAM_IDLE_TIMEOUT_SECONDS,
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
 * (or the user's) defaults say:
 * - `TIMESTAMP` in the DDL is TIMESTAMP_NTZ holding UTC, how the pipeline
 *   writes times (an account mapping it to LTZ would shift them);
 * - text becomes a timestamp or date by AUTO detection: the staged CSV's
 *   `2025-07-01 00:21:00`, the COPY constants' `CAST('…' AS TIMESTAMP)`
 *   and the `CAST(? AS TIMESTAMP)` binds. The file format's TIMESTAMP_FORMAT
 *   defaults to AUTO, which means "the session's TIMESTAMP_INPUT_FORMAT",
 *   so an account that set that to anything else would misread or reject
 *   every load;
 * - times cast to text read as DuckDB prints them;
 * - a statement runs at most STATEMENT_TIMEOUT_IN_SECONDS and waits at most
 *   LOCK_TIMEOUT for another transaction's lock.
 * `careplus setup --print` prints the same lines ahead of the pipeline's DDL.
 */
export function sessionStatements(s: Pick<SnowflakeSettings, 'statementTimeoutSeconds' | 'lockTimeoutSeconds'>): string[] {
  return [
    `ALTER SESSION SET TIMEZONE = 'UTC'`,
    `ALTER SESSION SET TIMESTAMP_TYPE_MAPPING = 'TIMESTAMP_NTZ'`,
    `ALTER SESSION SET TIMESTAMP_INPUT_FORMAT = 'AUTO'`,
    `ALTER SESSION SET DATE_INPUT_FORMAT = 'AUTO'`,
    `ALTER SESSION SET TIMESTAMP_NTZ_OUTPUT_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF3'`,
    `ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = ${Math.floor(s.statementTimeoutSeconds)}`,
    `ALTER SESSION SET LOCK_TIMEOUT = ${Math.floor(s.lockTimeoutSeconds)}`,
  ]
}

/**
 * The driver's own login retries for an unreachable host (7 by default,
 * ~149 s): as many as fit in the login timeout, so it stops trying about
 * when the timeout reports the failure. Its sleeps double from 1 s.
 */
function loginRetries(timeoutSeconds: number): number {
  return Math.max(0, Math.floor(Math.log2(timeoutSeconds + 2)) - 1)
}

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

const LOGIN_TIMED_OUT = Symbol('login timed out')

/** A statement Snowflake rejected: its error code, SQLSTATE and query id, kept for callers and messages. */
export class SnowflakeQueryError extends PipelineError {
  constructor(
    code: ErrorCode,
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
 * engine. A transaction is BEGIN TRANSACTION … COMMIT on that session, so
 * every statement and transaction is serialised through `exclusive` (a
 * statement of another task sent while a transaction is open would join it).
 * Every statement carries a QUERY_TAG naming the run (see queryTag.ts) and
 * may carry an abort signal, which cancels it in Snowflake.
 *
 * A session that is gone (expired, terminated, its connection lost for good)
 * fails the statement in flight and whatever transaction was open; the next
 * call logs in again. Snowflake keeps a transaction whose session vanished
 * open, holding its locks, for hours: after logging in again, the engine
 * aborts the transactions its lost sessions left (SHOW TRANSACTIONS,
 * SYSTEM$ABORT_TRANSACTION), so the retry's DELETE does not wait on them.
 * Statements are never replayed here: a task's retry is the orchestrator's
 * decision.
 */
export class SnowflakeWarehouse implements Warehouse {
  readonly engine = 'snowflake' as const
  private queue: Promise<unknown> = Promise.resolve()
  private conn: Connection | undefined
  private migrated: Promise<void> | undefined
  private closed = false
  private readonly types = ddlColumnTypes()
  /** Snowflake's session id of each connection (CURRENT_SESSION()), read at login. */
  private readonly sessionIds = new WeakMap<Connection, string>()
  /** Ids of sessions lost while they may have had a transaction open: aborted after the next login. */
  private readonly lostSessions = new Set<string>()

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

  /** The host the driver logs in to. */
  private get host(): string {
    return this.settings.accessUrl ? new URL(this.settings.accessUrl).host : `${this.settings.account}.snowflakecomputing.com`
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
        sfRetryMaxLoginRetries: loginRetries(s.loginTimeoutSeconds),
      })
    } catch (err) {
      throw new PipelineError('ERR_CONFIG', `invalid Snowflake connection settings: ${oneLine((err as Error).message)}`, { cause: err })
    }
    // connect(callback): connectAsync() resolves even when the login fails (its errors go to the callback).
    const login = new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())))
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(LOGIN_TIMED_OUT), s.loginTimeoutSeconds * 1000)))
    try {
      await Promise.race([login, deadline])
    } catch (err) {
      if (err === LOGIN_TIMED_OUT) {
        // The driver cannot be stopped mid-login; a login that still succeeds is logged out again.
        login.then(
          () => conn.destroy(() => {}),
          () => {},
        )
        throw await this.unreachable()
      }
      const e = err as SnowflakeError
      const code = e.code !== undefined ? ` (${e.code})` : ''
      const where = s.accessUrl ? ` at ${s.accessUrl}` : ''
      // 401001: the driver's "could not reach Snowflake" once its retries are spent.
      const hint = String(e.code) === '401001' ? `; check SNOWFLAKE_ACCOUNT (${s.account})${s.accessUrl ? ' and SNOWFLAKE_ACCESS_URL' : ''} and the network` : ''
      throw new PipelineError('ERR_SNOWFLAKE_LOGIN', `Snowflake login failed for ${this.who}${where}: ${oneLine(e.message)}${code}${hint}`, { cause: err })
    } finally {
      clearTimeout(timer)
    }
    try {
      for (const sql of sessionStatements(s)) await this.execute(conn, sql, undefined)
      const [row] = (await this.execute(conn, 'SELECT CURRENT_SESSION() AS session_id', undefined)).rows
      this.sessionIds.set(conn, String(Object.values(row ?? {})[0]))
    } catch (err) {
      conn.destroy(() => {})
      throw err
    }
    return conn
  }

  /** The login timed out: which host did not answer, and whether it even resolves. */
  private async unreachable(): Promise<PipelineError> {
    const s = this.settings
    let why = 'no answer'
    try {
      await Promise.race([lookup(this.host.replace(/:\d+$/, '')), new Promise((_, reject) => setTimeout(reject, 2000).unref())])
    } catch (err) {
      const code = (err as { code?: string } | undefined)?.code
      if (code) why = `the host does not resolve (${code})`
    }
    return new PipelineError(
      'ERR_SNOWFLAKE_UNREACHABLE',
      `Snowflake login for ${this.who} did not complete within ${s.loginTimeoutSeconds} s: ${why} from ${this.host}; check SNOWFLAKE_ACCOUNT (${s.account})` +
        `${s.accessUrl ? ' and SNOWFLAKE_ACCESS_URL' : ''} and the network (a retry may succeed if it is down only for now)`,
    )
  }

  /** The live session, logging in again when the previous one is gone. */
  private async session(): Promise<Connection> {
    if (this.closed) throw new PipelineError('ERR_WAREHOUSE', 'the Snowflake warehouse is closed')
    if (this.conn?.isUp()) return this.conn
    const old = this.conn
    this.conn = undefined
    if (old) {
      const id = this.sessionIds.get(old)
      if (id) this.lostSessions.add(id)
      old.destroy(() => {})
    }
    this.conn = await this.connect()
    if (this.lostSessions.size > 0) await this.abortLeftovers(this.conn)
    return this.conn
  }

  /**
   * Aborts the transactions the engine's lost sessions left running (only
   * those: other processes logged in as the same user keep theirs). The ids
   * are 64-bit integers, read and sent as text.
   */
  private async abortLeftovers(conn: Connection): Promise<void> {
    try {
      const { rows } = await this.execute(conn, 'SHOW TRANSACTIONS', undefined, { fetchAsString: ['Number'] })
      for (const r of rows) {
        const id = String(r.id ?? '')
        if (!this.lostSessions.has(String(r.session ?? '')) || !/^-?\d+$/.test(id)) continue
        await this.execute(conn, `SELECT SYSTEM$ABORT_TRANSACTION(${id})`, undefined)
      }
      this.lostSessions.clear()
    } catch {
      // Named case: the clean-up is best effort. What it could not abort
      // only delays a statement waiting on its locks (at most LOCK_TIMEOUT);
      // the ids stay, for the next login to try again.
    }
  }

  private exclusive<T>(fn: (conn: Connection) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const run = async (): Promise<T> => {
      // A statement whose caller gave up while it queued is not sent.
      signal?.throwIfAborted()
      return fn(await this.session())
    }
    const next = this.queue.then(run, run)
    this.queue = next.catch(() => {})
    return next
  }

  /** One statement; an abort of `signal` cancels it in Snowflake and rejects with the abort's reason. */
  private execute(
    conn: Connection,
    sql: string,
    params: readonly unknown[] | undefined,
    opts: { stream?: boolean; signal?: AbortSignal; fetchAsString?: DataType[] } = {},
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
          fetchAsString: opts.fetchAsString,
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
        `lost the Snowflake session of ${this.who}: ${oneLine(err.message)}${code ? ` (${code})` : ''}; ` +
          'nothing of its open transaction was committed, but Snowflake may keep it open, holding its locks, until the next login aborts it; the next call logs in again',
        code,
        err.sqlState,
        queryId,
        { cause: err },
      )
    }
    return new SnowflakeQueryError('ERR_SNOWFLAKE_QUERY', `Snowflake ${code ?? 'error'}${state}: ${oneLine(err.message)}${qid}`, code, err.sqlState, queryId, { cause: err })
  }

  private async runOn(conn: Connection, sql: string, params?: readonly unknown[], signal?: AbortSignal): Promise<number> {
    const { stmt } = await this.execute(conn, sql, params, { signal })
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

  run(sql: string, params?: readonly unknown[], signal?: AbortSignal): Promise<number> {
    return this.exclusive((conn) => this.runOn(conn, sql, params, signal), signal)
  }

  query(sql: string, params?: readonly unknown[], signal?: AbortSignal): Promise<Row[]> {
    return this.exclusive((conn) => this.queryOn(conn, sql, params, signal), signal)
  }

  transaction<T>(fn: (tx: WarehouseTx) => Promise<T>): Promise<T> {
    return this.exclusive(async (conn) => {
      await this.runOn(conn, 'BEGIN TRANSACTION')
      const tx: WarehouseTx = {
        run: (sql, params, signal) => this.runOn(conn, sql, params, signal),
        query: (sql, params, signal) => this.queryOn(conn, sql, params, signal),
        copyFromStage: (spec, signal) => this.copyOn(conn, spec, signal),
      }
      try {
        const out = await fn(tx)
        await this.runOn(conn, 'COMMIT')
        return out
      } catch (err) {
        // On a lost session ROLLBACK cannot reach it: the next login aborts what it left open.
        if (conn.isUp()) await this.runOn(conn, 'ROLLBACK').catch(() => {})
        throw err
      }
    })
  }

  /** Snowflake types a statement only by running it: the lexical check (readOnlySql.ts). */
  async assertReadOnly(sql: string): Promise<void> {
    assertReadOnlySql(sql)
  }

  /**
   * The rows in chunks of STREAM_CHUNK_ROWS, as the driver downloads them.
   * Waiting for the next row longer than the idle timeout (a result chunk
   * that stopped arriving) fails as a transient error rather than hanging;
   * the time the caller spends on a chunk does not count.
   */
  async *stream(sql: string, signal?: AbortSignal): AsyncIterable<{ columns: string[]; rows: unknown[][] }> {
    // Holding the queue for the whole iteration keeps other statements off the session.
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    const conn = await new Promise<Connection>((entered, failed) => {
      this.exclusive(async (c) => {
        entered(c)
        await held
      }, signal).catch(failed)
    })
    let rowStream: Readable | undefined
    try {
      const { stmt } = await this.execute(conn, sql, undefined, { stream: true, signal })
      const columns = (stmt.getColumns() ?? []).map((c) => columnName(c.getName()))
      rowStream = stmt.streamRows()
      const rows = rowStream[Symbol.asyncIterator]() as AsyncIterator<unknown[]>
      const idleMs = this.settings.streamIdleTimeoutSeconds * 1000
      let chunk: unknown[][] = []
      let delivered = 0
      let sent = false
      for (;;) {
        const next = await nextRow(rows, idleMs, signal)
        if (next === IDLE) {
          throw new PipelineError(
            'ERR_SNOWFLAKE_STREAM_STALLED',
            `Snowflake query result stalled: no row for ${this.settings.streamIdleTimeoutSeconds} s after ${delivered} row${delivered === 1 ? '' : 's'} [query ${stmt.getQueryId()}]; ` +
              'a result chunk stopped arriving (network or cloud storage); transient, a retry may succeed',
          )
        }
        if (next.done) break
        chunk.push(next.value.map(plain))
        delivered++
        if (chunk.length === STREAM_CHUNK_ROWS) {
          yield { columns, rows: chunk }
          sent = true
          chunk = []
        }
      }
      if (chunk.length > 0 || !sent) yield { columns, rows: chunk }
    } catch (err) {
      if (signal?.aborted) throw signal.reason
      // A result download the driver gave up on, as one line with its code.
      if (!(err instanceof PipelineError)) throw new PipelineError('ERR_SNOWFLAKE_QUERY', `Snowflake query result: ${oneLine((err as Error).message)}`, { cause: err })
      throw err
    } finally {
      rowStream?.destroy()
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
   * from the result, or reported LOAD_SKIPPED, was skipped by Snowflake's
   * load metadata (loaded before, and not forced), which fails the load too
   * rather than loading less than was staged.
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

const IDLE = Symbol('idle')

/** The next row, or IDLE when none comes within `idleMs`; an abort of `signal` rejects with its reason. */
async function nextRow(rows: AsyncIterator<unknown[]>, idleMs: number, signal: AbortSignal | undefined): Promise<IteratorResult<unknown[]> | typeof IDLE> {
  signal?.throwIfAborted()
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const next = rows.next()
  // Left pending when the idle timeout wins; destroying the stream then settles it, maybe as an error nobody awaits.
  next.catch(() => {})
  try {
    return await Promise.race([
      next,
      new Promise<typeof IDLE>((resolve) => (timer = setTimeout(() => resolve(IDLE), idleMs))),
      new Promise<never>((_, reject) => {
        onAbort = () => reject(signal!.reason)
        signal?.addEventListener('abort', onAbort, { once: true })
      }),
    ])
  } finally {
    clearTimeout(timer)
    if (onAbort) signal?.removeEventListener('abort', onAbort)
  }
}
