/**
 * DuckDB's COPY from the stage, as a pure function: what the DuckDB engine
 * sends (src/warehouse/duckdbWarehouse.ts) and what `careplus compile` prints.
 * The staged files' dialect is sinks/csvEncoding.ts (header row, `"`
 * quoting, NULL an empty unquoted field, '' a quoted empty field).
 */
import type { CopySpec } from '../warehouse/warehouse.js'
import { checkIdentifiers, columnType } from './ddlColumnTypes.js'

/** read_csv's read buffer for the staged files. */
export const CSV_BUFFER_BYTES = 4 * 1024 * 1024

export function quoteLiteral(s: string): string {
  return `'${s.replaceAll("'", "''")}'`
}

/**
 * `INSERT INTO … SELECT … FROM read_csv([local copies], …)` typed by the
 * target's own column types, the constants bound as `?` parameters (their
 * values are returned in `params`, in order).
 */
export function duckdbCopyStatement(
  spec: Pick<CopySpec, 'table' | 'csvColumns' | 'constants'>,
  localFiles: readonly string[],
  types: ReadonlyMap<string, string>,
): { sql: string; params: string[] } {
  checkIdentifiers(spec)
  const columnSpec = spec.csvColumns.map((c) => `${quoteLiteral(c)}: ${quoteLiteral(columnType(types, spec.table, c))}`).join(', ')
  const constantNames = Object.keys(spec.constants)
  const select = [...spec.csvColumns.map((c) => `"${c}"`), ...constantNames.map((c) => `?::${columnType(types, spec.table, c)}`)]
  const sql =
    `INSERT INTO ${spec.table} (${[...spec.csvColumns, ...constantNames].map((c) => `"${c}"`).join(', ')}) ` +
    `SELECT ${select.join(', ')} FROM read_csv([${localFiles.map(quoteLiteral).join(', ')}], ` +
    `header = true, delim = ',', quote = '"', escape = '"', compression = 'gzip', ` +
    // DuckDB's default buffer (16 × max_line_size, 32 MiB) is one allocation larger than a load's
    // memory limit (LOAD_MEMORY_LIMIT); 4 MiB still holds two of the longest lines it reads (max_line_size, 2 MiB).
    `auto_detect = false, allow_quoted_nulls = false, buffer_size = ${CSV_BUFFER_BYTES}, columns = {${columnSpec}})`
  return { sql, params: Object.values(spec.constants) }
}
