/**
 * The warehouse interface every engine implements (DuckDB embedded,
 * Snowflake in production). Callers speak portable SQL with `?` parameters;
 * engine differences stay behind this interface and in sql/dialect files.
 */
export type Row = Record<string, unknown>

/** Reads staged files back (engines that cannot read the stage directly download a local copy). */
export interface StageReader {
  download(key: string, localPath: string, signal?: AbortSignal): Promise<void>
}

export interface CopySpec {
  /** Fully qualified target, e.g. `bronze.logs`. Validated identifiers only, never data. */
  table: string
  /** The staged CSV's columns, in file order (the header row). */
  csvColumns: readonly string[]
  /** Stage keys of the files to load. */
  files: readonly string[]
  /** Columns filled with one value for the whole load (`_loaded_at`, `_run_id`). */
  constants: Record<string, string>
  /**
   * Load the files even if the engine remembers loading them before
   * (Snowflake's load metadata): set by a caller that has just deleted
   * those rows in the same transaction, so its ledger alone decides.
   */
  force?: boolean
}

/**
 * Every statement takes an optional abort signal: an abort cancels the
 * statement in the engine (Snowflake's abort-request, DuckDB's interrupt) and
 * rejects with the signal's reason. A statement queued behind others is not
 * sent at all once its signal is aborted.
 */
export interface WarehouseTx {
  /** Runs one statement; returns the rows it changed. */
  run(sql: string, params?: readonly unknown[], signal?: AbortSignal): Promise<number>
  query(sql: string, params?: readonly unknown[], signal?: AbortSignal): Promise<Row[]>
  /** COPY staged CSV files into a table; returns the rows loaded. */
  copyFromStage(spec: CopySpec, signal?: AbortSignal): Promise<number>
}

export interface Warehouse extends Omit<WarehouseTx, 'copyFromStage'> {
  readonly engine: 'duckdb' | 'snowflake'
  /** Creates schemas and the bronze/ops tables when missing. */
  migrate(): Promise<void>
  /** Runs `fn` in one transaction: all of it commits, or none of it. */
  transaction<T>(fn: (tx: WarehouseTx) => Promise<T>): Promise<T>
  /** Streams a query's rows in chunks (never the whole result in memory). */
  stream(sql: string, signal?: AbortSignal): AsyncIterable<{ columns: string[]; rows: unknown[][] }>
  /** Rejects (ERR_READ_ONLY) anything but one statement that only reads, without running it. */
  assertReadOnly(sql: string): Promise<void>
  close(): Promise<void>
}

/** Plain JS values for results: BIGINT as number when it fits (else string), timestamps as ISO-like strings. */
export function plainValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()
  return v
}
