/**
 * Snowflake's session date/time formats for the loopback endpoint
 * (snowflakeEndpoint.ts), on DuckDB:
 *
 * - TIMESTAMP_INPUT_FORMAT / DATE_INPUT_FORMAT: how text becomes a timestamp
 *   or date in `CAST(… AS TIMESTAMP)`, `CAST(? AS TIMESTAMP)` and a COPY into
 *   a TIMESTAMP column whose file format says TIMESTAMP_FORMAT = AUTO (the
 *   default). AUTO reads the ISO-like forms; any other format reads only
 *   text in that format, and other text is "not recognized", as in Snowflake.
 * - TIMESTAMP_NTZ_OUTPUT_FORMAT (else TIMESTAMP_OUTPUT_FORMAT) and
 *   DATE_OUTPUT_FORMAT: how `CAST(… AS VARCHAR)` prints a timestamp or date.
 *
 * Each session has its own DuckDB connection, so the formats live in TEMP
 * macros of that connection (sessionMacros), re-created whenever the
 * session's parameters change, and the statements' casts are rewritten to
 * call them (rewriteCasts).
 */

/** Snowflake's defaults, as an account that never changed them has them. */
export const FORMAT_DEFAULTS: Record<string, string> = {
  TIMESTAMP_INPUT_FORMAT: 'AUTO',
  DATE_INPUT_FORMAT: 'AUTO',
  TIMESTAMP_OUTPUT_FORMAT: 'YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM',
  TIMESTAMP_NTZ_OUTPUT_FORMAT: 'YYYY-MM-DD HH24:MI:SS.FF3',
  DATE_OUTPUT_FORMAT: 'YYYY-MM-DD',
}

export const FORMAT_PARAMETERS = new Set(Object.keys(FORMAT_DEFAULTS))

/** A format the endpoint cannot express: reported as the statement's error. */
export class UnsupportedFormat extends Error {}

const TOKENS: Array<[string, string]> = [
  ['YYYY', '%Y'],
  ['HH24', '%H'],
  ['HH12', '%I'],
  ['FF9', '%n'],
  ['FF6', '%f'],
  ['FF3', '%g'],
  ['FF', '%n'],
  ['MON', '%b'],
  ['MM', '%m'],
  ['DD', '%d'],
  ['DY', '%a'],
  ['YY', '%y'],
  ['HH', '%H'],
  ['MI', '%M'],
  ['SS', '%S'],
  ['AM', '%p'],
  ['PM', '%p'],
]

/** A Snowflake format ('DD/MM/YYYY HH24:MI:SS') as DuckDB's strptime/strftime spell it. */
export function duckFormat(format: string, opts: { dropZone?: boolean } = {}): string {
  let out = ''
  let rest = opts.dropZone ? format.replace(/\s*TZH(:?TZM)?$/i, '') : format
  while (rest.length > 0) {
    if (rest[0] === '"') {
      const end = rest.indexOf('"', 1)
      out += rest.slice(1, end < 0 ? undefined : end).replaceAll('%', '%%')
      rest = end < 0 ? '' : rest.slice(end + 1)
      continue
    }
    const tok = TOKENS.find(([t]) => rest.toUpperCase().startsWith(t))
    if (tok) {
      out += tok[1]
      rest = rest.slice(tok[0].length)
      continue
    }
    if (/^[A-Za-z]/.test(rest)) throw new UnsupportedFormat(`format element at '${rest}' in '${format}' is not supported by the test endpoint`)
    out += rest[0] === '%' ? '%%' : rest[0]
    rest = rest.slice(1)
  }
  return out
}

function lit(s: string): string {
  return `'${s.replaceAll("'", "''")}'`
}

/** The text → timestamp conversion a format means: AUTO is DuckDB's own cast of ISO-like text. */
function parseExpr(value: string, format: string, type: 'TIMESTAMP' | 'DATE', strict: boolean): string {
  if (format.toUpperCase() === 'AUTO') return `${strict ? 'CAST' : 'TRY_CAST'}(${value} AS ${type})`
  const parsed = `${strict ? 'strptime' : 'try_strptime'}(${value}, ${lit(duckFormat(format))})`
  return type === 'DATE' ? `CAST(${parsed} AS DATE)` : parsed
}

/**
 * The session's TEMP macros: sf_cast_timestamp / sf_cast_date (text in the
 * session's input format, other types cast as they are), their TRY_ forms,
 * and sf_cast_varchar (timestamps and dates in the session's output format).
 */
export function sessionMacros(param: (name: string) => string): string[] {
  const tsIn = param('TIMESTAMP_INPUT_FORMAT')
  const dateIn = param('DATE_INPUT_FORMAT')
  const ntzOut = param('TIMESTAMP_NTZ_OUTPUT_FORMAT') || param('TIMESTAMP_OUTPUT_FORMAT')
  const dateOut = param('DATE_OUTPUT_FORMAT')
  const text = (x: string): string => `CAST(${x} AS VARCHAR)`
  const dispatch = (type: 'TIMESTAMP' | 'DATE', format: string, strict: boolean): string =>
    `CASE WHEN typeof(x) = 'VARCHAR' THEN ${parseExpr(text('x'), format, type, strict)} ELSE ${strict ? 'CAST' : 'TRY_CAST'}(x AS ${type}) END`
  return [
    `CREATE OR REPLACE TEMP MACRO sf_cast_timestamp(x) AS ${dispatch('TIMESTAMP', tsIn, true)}`,
    `CREATE OR REPLACE TEMP MACRO sf_try_cast_timestamp(x) AS ${dispatch('TIMESTAMP', tsIn, false)}`,
    `CREATE OR REPLACE TEMP MACRO sf_cast_date(x) AS ${dispatch('DATE', dateIn, true)}`,
    `CREATE OR REPLACE TEMP MACRO sf_try_cast_date(x) AS ${dispatch('DATE', dateIn, false)}`,
    `CREATE OR REPLACE TEMP MACRO sf_cast_varchar(x) AS CASE ` +
      `WHEN typeof(x) LIKE 'TIMESTAMP%' THEN strftime(TRY_CAST(x AS TIMESTAMP), ${lit(duckFormat(ntzOut, { dropZone: true }))}) ` +
      `WHEN typeof(x) = 'DATE' THEN strftime(TRY_CAST(x AS DATE), ${lit(duckFormat(dateOut))}) ` +
      `ELSE CAST(x AS VARCHAR) END`,
  ]
}

/** The DuckDB expression COPY uses to read a field (DuckDB SQL `value`) into a TIMESTAMP/DATE column. */
export function copyParse(value: string, type: string, fileFormat: string | undefined, param: (name: string) => string, strict: boolean): string | undefined {
  const kind = /^TIMESTAMP/i.test(type) ? 'TIMESTAMP' : /^DATE$/i.test(type) ? 'DATE' : undefined
  if (!kind) return undefined
  // The file format's TIMESTAMP_FORMAT/DATE_FORMAT; AUTO (its default) falls back to the session's input format.
  const format = fileFormat && fileFormat.toUpperCase() !== 'AUTO' ? fileFormat : param(kind === 'TIMESTAMP' ? 'TIMESTAMP_INPUT_FORMAT' : 'DATE_INPUT_FORMAT')
  return parseExpr(value, format, kind, strict)
}

/** Index of the quote closing the Snowflake literal opened at s[i] ('' and backslash escapes inside). */
function literalEnd(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    if (s[j] === '\\') j++
    else if (s[j] === "'") {
      if (s[j + 1] !== "'") return j
      j++
    }
  }
  return s.length - 1
}

/** Index of the `)` closing the `(` at s[i], quotes respected. */
function closeParen(s: string, i: number): number {
  let depth = 0
  for (let j = i; j < s.length; j++) {
    const ch = s[j]
    if (ch === "'") j = literalEnd(s, j)
    else if (ch === '"') j = s.indexOf('"', j + 1)
    else if (ch === '(') depth++
    else if (ch === ')' && --depth === 0) return j
  }
  return -1
}

/** The position of the last top-level ` AS ` in a CAST's argument text (outside quotes and parentheses). */
function lastTopLevelAs(s: string): number {
  let depth = 0
  let found = -1
  for (let j = 0; j < s.length; j++) {
    const ch = s[j]
    if (ch === "'") j = literalEnd(s, j)
    else if (ch === '"') j = s.indexOf('"', j + 1)
    else if (ch === '(') depth++
    else if (ch === ')') depth--
    else if (depth === 0 && /^\sAS\s/i.test(s.slice(j, j + 4))) found = j
  }
  return found
}

const CAST_TARGETS: Array<[RegExp, string]> = [
  [/^TIMESTAMP(_NTZ)?(\s*\(\s*\d+\s*\))?$/i, 'sf_cast_timestamp'],
  [/^DATE$/i, 'sf_cast_date'],
  [/^(VARCHAR|STRING|TEXT)(\s*\(\s*\d+\s*\))?$/i, 'sf_cast_varchar'],
]

/**
 * `CAST(e AS TIMESTAMP|DATE|VARCHAR)` and `TRY_CAST(…)` → the session
 * macros, nested casts included; other casts, comments and literals stay as
 * they are. Runs on Snowflake SQL, before the endpoint's translation.
 */
export function rewriteCasts(sql: string): string {
  let out = ''
  let i = 0
  const re = /\b(TRY_)?CAST\s*\(|'|--|"|\$\$/gi
  for (;;) {
    re.lastIndex = i
    const m = re.exec(sql)
    if (!m) break
    const at = m.index
    if (m[0] === "'") {
      const j = literalEnd(sql, at)
      out += sql.slice(i, j + 1)
      i = j + 1
      continue
    }
    if (m[0] === '--') {
      const nl = sql.indexOf('\n', at)
      const end = nl < 0 ? sql.length : nl
      out += sql.slice(i, end)
      i = end
      continue
    }
    if (m[0] === '"' || m[0] === '$$') {
      const end = sql.indexOf(m[0], at + m[0].length)
      const stop = end < 0 ? sql.length : end + m[0].length
      out += sql.slice(i, stop)
      i = stop
      continue
    }
    const open = at + m[0].length - 1
    const close = closeParen(sql, open)
    if (close < 0) break
    const inner = sql.slice(open + 1, close)
    const as = lastTopLevelAs(inner)
    const type = as < 0 ? '' : inner.slice(as + 4).trim()
    const target = CAST_TARGETS.find(([t]) => t.test(type))?.[1]
    if (!target) {
      out += sql.slice(i, open + 1) + rewriteCasts(inner) + ')'
    } else {
      const fn = m[1] && target !== 'sf_cast_varchar' ? target.replace('sf_cast_', 'sf_try_cast_') : target
      out += sql.slice(i, at) + `${fn}(${rewriteCasts(inner.slice(0, as))})`
    }
    i = close + 1
  }
  return out + sql.slice(i)
}
