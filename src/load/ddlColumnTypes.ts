import { ddlStatements } from '../warehouse/sqlFiles.js'

/**
 * Column types of every table in the bronze/ops DDL (sql/ddl), in DDL order,
 * as written there (`VARCHAR`, `TIMESTAMP`, …), which is also what DuckDB's
 * information_schema reports for them. The COPY builders type the loaded
 * columns and constants by them.
 */
export function ddlColumnTypes(statements: readonly string[] = ddlStatements()): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>()
  for (const sql of statements) {
    const m = /^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\s*\(([\s\S]*)\)\s*$/i.exec(sql)
    if (!m) continue
    const cols = new Map<string, string>()
    for (const line of m[2]!.split(',')) {
      const c = /^\s*([a-z_][a-z0-9_]*)\s+([A-Za-z]+(?:\s*\([0-9, ]+\))?)/i.exec(line.replace(/--[^\n]*/g, ''))
      if (c) cols.set(c[1]!.toLowerCase(), c[2]!.toUpperCase())
    }
    out.set(m[1]!.toLowerCase(), cols)
  }
  return out
}

/** The DDL type of `table.column`; an unknown column is a programming error. */
export function columnType(types: ReadonlyMap<string, string>, table: string, column: string): string {
  const t = types.get(column)
  if (!t) throw new Error(`${table} has no column ${column}`)
  return t
}

const TABLE_IDENT = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/
const COLUMN_IDENT = /^[a-z_][a-z0-9_]*$/

/** COPY statements splice identifiers in: only validated ones, never data. */
export function checkIdentifiers(spec: { table: string; csvColumns: readonly string[]; constants: Record<string, string> }): void {
  if (!TABLE_IDENT.test(spec.table)) throw new Error(`invalid table identifier ${spec.table}`)
  for (const c of [...spec.csvColumns, ...Object.keys(spec.constants)]) {
    if (!COLUMN_IDENT.test(c)) throw new Error(`invalid column identifier ${c}`)
  }
}
