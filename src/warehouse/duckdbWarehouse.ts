import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { DuckDBConnection, DuckDBInstance, StatementType, type DuckDBValue } from '@duckdb/node-api'
import { readOnlyError } from './readOnlySql.js'
import { PipelineError } from '../errors.js'
import { duckdbCopyStatement } from '../load/duckdbCopy.js'
import { ddlStatements } from './sqlFiles.js'
import { plainValue, type CopySpec, type Row, type StageReader, type Warehouse, type WarehouseTx } from './warehouse.js'

/**
 * How long an open waits for another process's lock on the file before
 * ERR_WAREHOUSE_LOCKED. A process that has just ended may still hold it for a
 * moment: the warehouse process of an ingest killed with kill -9 notices its
 * parent is gone and exits within milliseconds (warehouseProcessMain.ts).
 */
const LOCK_WAIT_MS = 2000
const LOCK_RETRY_MS = 50

/** Local copies of staged files live in `<tmpDir>/copy-XXXXXX/` for the length of one COPY. */
const COPY_DIR_PREFIX = 'copy-'

/** Measured: a 1,000,000-ticket COPY peaked at ~695 MiB RSS without a limit. */
export const DEFAULT_DUCKDB_MEMORY_LIMIT = '256MB'

/**
 * A COPY runs with its own, smaller budget, so that a load does not make the
 * ingest's peak RSS (bench/: `stage-e2e`): DuckDB spills what does not fit to
 * its temp directory. Measured on the 100 MB bench input (7.6 MB staged,
 * 248,415 rows) loaded alone: peak RSS 248 MiB with the defaults, 373 MiB with
 * only preserve_insertion_order=false, 141 MiB with these settings (150 MiB at
 * ten times the rows; 173/194 MiB at 64MB), at no cost in time that the
 * loaded 2-core machine could show.
 */
export const LOAD_SETTINGS = {
  memory_limit: '32MB',
  // Rows of one COPY need no order in the table: lets DuckDB stream them instead of buffering per thread.
  preserve_insertion_order: false,
  // One thread per core the node process leaves free (it waits for the COPY); each thread holds buffers of its own.
  threads: Math.max(1, os.availableParallelism() - 1),
} as const

/**
 * DuckDB warehouse over one file. DuckDB admits one writing process per file
 * and does not protect threads of one process from each other, so this class
 * is the single owner of its connection: every statement and transaction is
 * serialised through `exclusive`, and other threads must send their work here
 * rather than opening the file themselves.
 */
export class DuckDbWarehouse implements Warehouse {
  readonly engine = 'duckdb' as const
  private queue: Promise<unknown> = Promise.resolve()
  private readonly columnTypes = new Map<string, Map<string, string>>()

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly stage: StageReader | undefined,
    private readonly tmpDir: string,
    private readonly memoryLimit: string,
  ) {}

  static async open(opts: { file: string; tmpDir: string; stage?: StageReader; memoryLimit?: string }): Promise<DuckDbWarehouse> {
    mkdirSync(path.dirname(opts.file), { recursive: true })
    mkdirSync(opts.tmpDir, { recursive: true })
    const memoryLimit = opts.memoryLimit ?? DEFAULT_DUCKDB_MEMORY_LIMIT
    let instance: DuckDBInstance
    const lockDeadline = Date.now() + LOCK_WAIT_MS
    for (;;) {
      try {
        // A memory limit makes DuckDB spill large loads to its temp directory
        // instead of holding a whole uncommitted COPY in memory.
        instance = await DuckDBInstance.create(opts.file, {
          memory_limit: memoryLimit,
          temp_directory: path.join(opts.tmpDir, 'duckdb-spill'),
        })
        break
      } catch (err) {
        const msg = (err as Error).message
        if (!/lock/i.test(msg)) throw new PipelineError('ERR_WAREHOUSE', `cannot open DuckDB file ${opts.file}: ${msg}`, { cause: err })
        if (Date.now() >= lockDeadline) {
          throw new PipelineError('ERR_WAREHOUSE_LOCKED', `DuckDB file ${opts.file} is in use by another process (${msg.split('\n')[0]})`, { cause: err })
        }
        await sleep(LOCK_RETRY_MS)
      }
    }
    // Holding the file's lock, this process is the only one that COPYs through tmpDir: a copy-* folder there
    // was left by a process killed mid-COPY (each is removed when its COPY ends), so it goes.
    for (const name of readdirSync(opts.tmpDir)) if (name.startsWith(COPY_DIR_PREFIX)) rmSync(path.join(opts.tmpDir, name), { recursive: true, force: true })
    const conn = await instance.connect()
    return new DuckDbWarehouse(instance, conn, opts.stage, opts.tmpDir, memoryLimit)
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn)
    this.queue = next.catch(() => {})
    return next
  }

  async migrate(): Promise<void> {
    await this.exclusive(async () => {
      for (const sql of ddlStatements()) await this.conn.run(sql)
    })
  }

  run(sql: string, params?: readonly unknown[], signal?: AbortSignal): Promise<number> {
    return this.exclusive(() => this.runNow(sql, params, signal))
  }

  query(sql: string, params?: readonly unknown[], signal?: AbortSignal): Promise<Row[]> {
    return this.exclusive(() => this.queryNow(sql, params, signal))
  }

  transaction<T>(fn: (tx: WarehouseTx) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      await this.conn.run('BEGIN TRANSACTION')
      const tx: WarehouseTx = {
        run: (sql, params, signal) => this.runNow(sql, params, signal),
        query: (sql, params, signal) => this.queryNow(sql, params, signal),
        copyFromStage: (spec, signal) => this.copyNow(spec, signal),
      }
      try {
        const out = await fn(tx)
        await this.conn.run('COMMIT')
        return out
      } catch (err) {
        await this.conn.run('ROLLBACK').catch(() => {})
        throw err
      } finally {
        await this.leaveLoadSettings()
      }
    })
  }

  /** DuckDB's own parser says how many statements there are and what each one is. */
  assertReadOnly(sql: string): Promise<void> {
    return this.exclusive(async () => {
      let type: StatementType
      try {
        const extracted = await this.conn.extractStatements(sql)
        if (extracted.count !== 1) throw readOnlyError(extracted.count === 0 ? 'the query is empty' : `send one statement at a time (got ${extracted.count})`)
        const prepared = await extracted.prepare(0)
        type = prepared.statementType
        prepared.destroySync()
      } catch (err) {
        if (err instanceof PipelineError) throw err
        throw new PipelineError('ERR_QUERY', (err as Error).message.split('\n')[0]!, { cause: err })
      }
      if (type !== StatementType.SELECT) throw readOnlyError(`a ${StatementType[type] ?? 'non-SELECT'} statement`)
    })
  }

  async *stream(sql: string, signal?: AbortSignal): AsyncIterable<{ columns: string[]; rows: unknown[][] }> {
    // Holding the queue for the whole iteration keeps other statements off the connection.
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    await new Promise<void>((entered) => void this.exclusive(() => (entered(), held)))
    const stop = this.interruptOn(signal)
    try {
      signal?.throwIfAborted()
      const result = await this.conn.stream(sql)
      const columns = result.columnNames()
      for await (const rows of result.yieldRowsJs()) {
        signal?.throwIfAborted()
        yield { columns, rows: rows.map((r) => r.map(plainValue)) }
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason
      throw new PipelineError('ERR_QUERY', (err as Error).message.split('\n')[0]!, { cause: err })
    } finally {
      stop()
      release()
    }
  }

  async close(): Promise<void> {
    await this.exclusive(async () => {
      this.conn.closeSync()
      this.instance.closeSync()
    })
  }

  /**
   * While the returned function is not called, an abort of `signal`
   * interrupts what the connection runs (DuckDB's interrupt(): the running
   * statement fails with "INTERRUPT Error"). Statements are serialised, so
   * it is always the caller's.
   */
  private interruptOn(signal: AbortSignal | undefined): () => void {
    if (!signal) return () => {}
    const onAbort = (): void => this.conn.interrupt()
    signal.addEventListener('abort', onAbort, { once: true })
    return () => signal.removeEventListener('abort', onAbort)
  }

  /** Runs `fn` interruptible by `signal`; an abort rejects with the signal's reason, not DuckDB's error. */
  private async interruptible<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    signal?.throwIfAborted()
    const stop = this.interruptOn(signal)
    try {
      return await fn()
    } catch (err) {
      if (signal?.aborted) throw signal.reason
      throw err
    } finally {
      stop()
    }
  }

  private runNow(sql: string, params?: readonly unknown[], signal?: AbortSignal): Promise<number> {
    return this.interruptible(signal, async () => (await this.conn.run(sql, params as DuckDBValue[] | undefined)).rowsChanged)
  }

  private queryNow(sql: string, params?: readonly unknown[], signal?: AbortSignal): Promise<Row[]> {
    return this.interruptible(signal, async () => {
      const reader = await this.conn.runAndReadAll(sql, params as DuckDBValue[] | undefined)
      return reader.getRowObjectsJS().map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, plainValue(v)])))
    })
  }

  /** Whether LOAD_SETTINGS are in force (a COPY ran, or failed and left them for transaction() to restore). */
  private loadSettingsOn = false

  private async enterLoadSettings(): Promise<void> {
    this.loadSettingsOn = true
    await this.conn.run(`SET memory_limit = '${LOAD_SETTINGS.memory_limit}'`)
    await this.conn.run(`SET preserve_insertion_order = ${LOAD_SETTINGS.preserve_insertion_order}`)
    await this.conn.run(`SET threads = ${LOAD_SETTINGS.threads}`)
  }

  /** Back to the instance's own settings for everything else (transforms, queries). */
  private async leaveLoadSettings(): Promise<void> {
    if (!this.loadSettingsOn) return
    await this.conn.run(`SET memory_limit = '${this.memoryLimit}'`)
    await this.conn.run('RESET preserve_insertion_order')
    await this.conn.run('RESET threads')
    this.loadSettingsOn = false
  }

  private async tableColumns(table: string): Promise<Map<string, string>> {
    let cols = this.columnTypes.get(table)
    if (!cols) {
      const [schema, name] = table.split('.')
      const rows = await this.queryNow(
        'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position',
        [schema, name],
      )
      cols = new Map(rows.map((r) => [String(r.column_name), String(r.data_type)]))
      this.columnTypes.set(table, cols)
    }
    return cols
  }

  /**
   * DuckDB's COPY: a local copy of each staged file is read with read_csv in
   * the staging dialect (see sinks/csvEncoding.ts), typed by the target
   * table's own column types, inside the caller's transaction.
   */
  private async copyNow(spec: CopySpec, signal?: AbortSignal): Promise<number> {
    if (spec.files.length === 0) return 0
    if (!this.stage) throw new Error('DuckDbWarehouse opened without a stage reader cannot COPY')
    const types = await this.tableColumns(spec.table)
    const dir = await mkdtemp(path.join(this.tmpDir, COPY_DIR_PREFIX))
    try {
      const local = spec.files.map((_, i) => path.join(dir, `${i}.csv.gz`))
      // Built (and its identifiers checked) before anything is downloaded.
      const { sql, params } = duckdbCopyStatement(spec, local, types)
      for (const [i, key] of spec.files.entries()) await this.stage.download(key, local[i]!, signal)
      await this.enterLoadSettings()
      try {
        return await this.runNow(sql, params, signal)
      } finally {
        // Named case: after a failed COPY the transaction refuses every statement until its
        // ROLLBACK, so this fails and transaction() restores the settings after the ROLLBACK.
        await this.leaveLoadSettings().catch(() => {})
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
