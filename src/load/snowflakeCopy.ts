/**
 * Snowflake's COPY from the external stage, as pure functions: what the
 * Snowflake engine sends (src/warehouse/snowflakeWarehouse.ts) and what
 * `careplus compile` prints, and the check of COPY's per-file result. The
 * staged files' dialect is sinks/csvEncoding.ts.
 */
import { oneLine, PipelineError } from '../errors.js'
import type { CopySpec, Row } from '../warehouse/warehouse.js'
import { checkIdentifiers, columnType } from './ddlColumnTypes.js'

/** The longest folder prefix (ending in `/`) shared by every key. */
function commonFolder(keys: readonly string[]): string {
  if (keys.length === 0) return ''
  let prefix = keys[0]!.slice(0, keys[0]!.lastIndexOf('/') + 1)
  for (const k of keys) {
    while (!k.startsWith(prefix)) prefix = prefix.slice(0, prefix.slice(0, -1).lastIndexOf('/') + 1)
  }
  return prefix
}

/**
 * A Snowflake string constant. Snowflake reads backslash escapes inside '…'
 * (unlike standard SQL), so a backslash is doubled as well as a quote.
 */
export function snowflakeLiteral(s: string): string {
  return `'${s.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`
}

/** Snowflake accepts at most 1,000 names in one COPY's FILES list. */
export const SNOWFLAKE_COPY_MAX_FILES = 1000

/**
 * The CSV dialect of the staged files (sinks/csvEncoding.ts) in Snowflake's
 * terms, for COPY and for the named file format `careplus setup` creates:
 * gzip, a header row, `"` quoting with `""` inside. NULL is an empty unquoted
 * field (EMPTY_FIELD_AS_NULL) and '' a quoted empty one, which
 * FIELD_OPTIONALLY_ENCLOSED_BY keeps a string; NULL_IF = () so no text
 * (not even the default \N) turns into NULL, and no backslash escapes
 * outside quotes.
 */
export const SNOWFLAKE_CSV_FORMAT =
  `TYPE = CSV, COMPRESSION = GZIP, SKIP_HEADER = 1, FIELD_OPTIONALLY_ENCLOSED_BY = '"', ` +
  `EMPTY_FIELD_AS_NULL = TRUE, ESCAPE_UNENCLOSED_FIELD = NONE, NULL_IF = ()`

export interface SnowflakeStageOptions {
  /** The external stage, e.g. `bronze.careplus_stage` (SNOWFLAKE_STAGE). */
  stage?: string
  /** The key prefix the stage's URL ends in (S3_STAGE_PREFIX): stage paths are keys without it. */
  stagePrefix?: string
}

/**
 * Snowflake: `COPY INTO` from the external stage over the stage prefix,
 * reading the staged files of one load by name (FILES, relative to their
 * common folder; at most 1,000, see snowflakeCopyStatements). The constant
 * columns (`_loaded_at`, `_run_id`, …) are NOT NULL and not in the files, so
 * the load selects the file columns by position and adds the constants as
 * typed literals (a COPY transformation). Identifiers are left unquoted so
 * they resolve to the upper-cased names of unquoted DDL.
 *
 * ON_ERROR = SKIP_FILE: a file with any bad row loads nothing and comes back
 * as LOAD_FAILED with its first error, line and column, while the others are
 * still checked; the caller fails the load and its transaction rolls back.
 * FORCE = TRUE (spec.force) loads the files even when Snowflake's load
 * metadata says they were loaded before: the caller has just deleted those
 * rows and its ledger, not Snowflake's 64-day memory, decides what is loaded.
 */
export function snowflakeCopyStatement(
  spec: Pick<CopySpec, 'table' | 'csvColumns' | 'constants' | 'files' | 'force'>,
  types: ReadonlyMap<string, string>,
  opts: SnowflakeStageOptions = {},
): string {
  checkIdentifiers(spec)
  const stage = opts.stage ?? 'careplus_stage'
  if (!/^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$/.test(stage)) throw new Error(`invalid stage name ${stage}`)
  if (spec.files.length === 0) throw new Error('a COPY needs at least one file')
  if (spec.files.length > SNOWFLAKE_COPY_MAX_FILES) throw new Error(`a COPY names at most ${SNOWFLAKE_COPY_MAX_FILES} files, got ${spec.files.length}`)
  const prefix = opts.stagePrefix ?? ''
  const paths = spec.files.map((key) => {
    if (!key.startsWith(prefix)) throw new Error(`staged file ${key} is not under the stage prefix ${prefix}`)
    return key.slice(prefix.length)
  })
  const folder = commonFolder(paths)
  const constants = Object.entries(spec.constants).map(([c, v]) => `CAST(${snowflakeLiteral(v)} AS ${columnType(types, spec.table, c)})`)
  const columns = [...spec.csvColumns, ...Object.keys(spec.constants)]
  // A location with characters beyond a plain path must be a quoted string.
  const location = /^[A-Za-z0-9_./-]*$/.test(folder) ? `@${stage}/${folder}` : snowflakeLiteral(`@${stage}/${folder}`)
  const select = [...spec.csvColumns.map((_, i) => `$${i + 1}`), ...constants]
  return (
    `COPY INTO ${spec.table} (${columns.join(', ')})\n` +
    `FROM (SELECT ${select.join(', ')} FROM ${location})\n` +
    `FILES = (${paths.map((f) => snowflakeLiteral(f.slice(folder.length))).join(', ')})\n` +
    `FILE_FORMAT = (${SNOWFLAKE_CSV_FORMAT})\n` +
    `ON_ERROR = SKIP_FILE` +
    (spec.force ? `\nFORCE = TRUE` : '')
  )
}

/** One load as COPY statements of at most 1,000 files each, in file order. */
export function snowflakeCopyStatements(
  spec: Pick<CopySpec, 'table' | 'csvColumns' | 'constants' | 'files' | 'force'>,
  types: ReadonlyMap<string, string>,
  opts: SnowflakeStageOptions = {},
): Array<{ sql: string; files: string[] }> {
  const out: Array<{ sql: string; files: string[] }> = []
  for (let i = 0; i < spec.files.length; i += SNOWFLAKE_COPY_MAX_FILES) {
    const files = spec.files.slice(i, i + SNOWFLAKE_COPY_MAX_FILES)
    out.push({ sql: snowflakeCopyStatement({ ...spec, files }, types, opts), files })
  }
  return out
}

/** Checks COPY's per-file result rows against the files named; returns the rows loaded. */
export function copyResult(table: string, stagePrefix: string, files: readonly string[], rows: readonly Row[]): number {
  const perFile = rows.filter((r) => r.file !== undefined && r.file !== null)
  // LOAD_SKIPPED: a file reported as skipped by the load metadata (how fakesnow answers), like one left out of the result.
  const failed = perFile.filter((r) => r.status !== 'LOADED' && r.status !== 'LOAD_SKIPPED')
  if (failed.length > 0) {
    const f = failed[0]!
    const where = [f.first_error_line != null ? `line ${f.first_error_line}` : '', f.first_error_column_name ? `column ${f.first_error_column_name}` : '']
      .filter(Boolean)
      .join(', ')
    const more = failed.length > 1 ? `; ${failed.length - 1} more file${failed.length === 2 ? '' : 's'} failed` : ''
    throw new PipelineError(
      'ERR_LOAD_FAILED',
      `COPY INTO ${table}: ${String(f.status)} ${String(f.file)}: ${oneLine(String(f.first_error ?? 'no error reported'))}${where ? ` (${where})` : ''}${more}; nothing was committed`,
    )
  }
  const reported = perFile.filter((r) => r.status === 'LOADED').map((r) => String(r.file))
  const skipped = files.filter((key) => {
    const rel = key.slice(stagePrefix.length)
    return !reported.some((f) => f === rel || f.endsWith(`/${rel}`))
  })
  if (skipped.length > 0) {
    throw new PipelineError(
      'ERR_LOAD_SKIPPED',
      `COPY INTO ${table}: Snowflake skipped ${skipped.length} of ${files.length} staged file${files.length === 1 ? '' : 's'} as already loaded (its load metadata), e.g. ${skipped[0]}; nothing was committed`,
    )
  }
  return perFile.reduce((n, r) => n + Number(r.rows_loaded ?? 0), 0)
}
