/**
 * A loopback Snowflake for tests: an HTTP server answering what snowflake-sdk
 * sends (login, query requests with result polling, session heartbeat, token
 * renewal and logout, telemetry), executing the statements on DuckDB.
 *
 * Statements run on an in-memory DuckDB instance, one DuckDB connection per
 * Snowflake session, with Snowflake's semantics where the pipeline depends
 * on them:
 * - transactions: BEGIN/COMMIT/ROLLBACK per session, a DDL statement commits
 *   the open transaction first, COMMIT without a transaction is a no-op;
 * - results as Snowflake's JSON: `rowtype` (name, type, scale…), `rowset` of
 *   strings, unquoted names upper-cased, DML counts as "number of rows
 *   inserted"…, errors with Snowflake's code, message and SQLSTATE;
 * - a retried request (same requestId) gets the first execution's result
 *   instead of running again, as Snowflake de-duplicates them;
 * - the Snowflake-only statements translated or emulated: stages, file
 *   formats and storage integrations are recorded; COPY INTO from an external
 *   stage reads the files from S3 (the embedded server) with the file
 *   format's CSV rules, returns Snowflake's per-file rows and keeps load
 *   metadata (a loaded file is skipped unless FORCE = TRUE); LIST lists the
 *   stage; SQL UDFs become DuckDB macros; a few functions are renamed
 *   (IFF, REGEXP_LIKE, DATEDIFF(part, …), DECODE, TRY_TO_*, DAYOFWEEKISO);
 * - users, passwords and RSA public keys (key-pair login verifies the JWT's
 *   signature and fingerprint); wrong credentials get 390100.
 *
 * Privileges, warehouses and roles are recorded, not enforced.
 *
 * Faults for tests: `faultOn(pattern, 'drop-response')` executes the next
 * matching statement and destroys the socket instead of answering (the
 * driver retries, and gets the recorded result); `'lose-session'` destroys
 * the socket and ends the session (its transaction rolls back) so the retry
 * is told the session no longer exists; `'stall'` holds the statement until
 * the client cancels it (abort-request), which fails it as Snowflake does.
 */
import http from 'node:http'
import net, { type Socket } from 'node:net'
import { createHash, createPublicKey, randomBytes, randomUUID, verify } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { gunzipSync, gzipSync } from 'node:zlib'
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { FORMAT_DEFAULTS, FORMAT_PARAMETERS, UnsupportedFormat, copyParse, rewriteCasts, sessionMacros } from './snowflakeFormats.js'
import {
  DuckDBConnection,
  DuckDBInstance,
  DuckDBTypeId,
  type DuckDBDateValue,
  type DuckDBDecimalType,
  type DuckDBPreparedStatement,
  type DuckDBResultReader,
  type DuckDBTimestampValue,
  type DuckDBTimeValue,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api'

export interface EndpointUser {
  password?: string
  /** Base64 of the DER public key (what ALTER USER … SET RSA_PUBLIC_KEY takes). */
  rsaPublicKey?: string
}

export interface SnowflakeEndpointOptions {
  /** The account identifier the endpoint answers for. */
  account: string
  users: Record<string, EndpointUser>
  /** How the endpoint reaches S3 for external stages (what a storage integration grants). */
  s3: { endpoint: string; region?: string; credentials: { accessKeyId: string; secretAccessKey: string } }
  /** Databases that exist from the start. */
  databases?: string[]
  /** A statement still running after this answers "in progress" and the client polls (Snowflake: ~45 s). */
  asyncAfterMs?: number
  /**
   * Account-level parameters (ALTER ACCOUNT SET …), the defaults every new
   * session starts with: TIMESTAMP_INPUT_FORMAT, TIMESTAMP_NTZ_OUTPUT_FORMAT,
   * STATEMENT_TIMEOUT_IN_SECONDS, LOCK_TIMEOUT, …
   */
  accountParameters?: Record<string, string>
  /**
   * Rows per result chunk. A larger result answers with the first chunk
   * inline and the others as `chunks` URLs the driver downloads (Snowflake
   * puts them on cloud storage, encrypted with the `qrmk`), as it does.
   */
  resultChunkRows?: number
  /**
   * How a COPY reports a file its load metadata skips: `omit` leaves it out
   * of the per-file result (what Snowflake returns), `row` answers a
   * LOAD_SKIPPED row for it (how tekumara/fakesnow models it).
   */
  skippedFiles?: 'omit' | 'row'
}

export interface RecordedStatement {
  session: number
  requestId: string
  /** The session's role when the statement arrived (USE ROLE changes it). */
  role: string | undefined
  sql: string
  queryTag: string | undefined
  bindings: unknown[]
  error?: { code: string; message: string }
}

type Fault = 'drop-response' | 'lose-session' | 'stall'
/** Faults of a result chunk's download: `cut` ends the response midway (once), `stall` never answers. */
type ChunkFault = 'cut' | 'stall'
type SfType = 'text' | 'fixed' | 'real' | 'boolean' | 'timestamp_ntz' | 'date' | 'time'
interface Col {
  name: string
  type: SfType
  scale?: number
}
interface Result {
  cols: Col[]
  rows: Array<Array<string | null>>
  statementTypeId: number
}
interface Session {
  id: number
  /** The open transaction's id (SHOW TRANSACTIONS), when inTx. */
  txId: string | undefined
  txStartedOn: Date | undefined
  /** Tables the open transaction holds write locks on (DELETE, UPDATE, MERGE). */
  locks: Set<string>
  token: string
  masterToken: string
  user: string
  role: string | undefined
  warehouse: string | undefined
  conn: DuckDBConnection
  inTx: boolean
  alive: boolean
  params: Map<string, string>
  queue: Promise<unknown>
  /** Load metadata of COPYs in the open transaction: recorded when it commits. */
  pendingLoads: Array<{ table: string; file: string; etag: string }>
}
interface Stage {
  name: string
  url: string
  integration?: string
  fileFormat?: Record<string, string>
}
interface Integration {
  name: string
  allowed: string[]
  roleArn?: string
  externalId: string
}

/** A Snowflake error: thrown by handlers, answered as `success: false`. */
class SfError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly sqlState = '42000',
  ) {
    super(message)
  }
}

const STATUS_OK = 'Statement executed successfully.'
const TYPE_ID = { select: 0x1000, insert: 0x3100, update: 0x3200, delete: 0x3300, dml: 0x3000, tcl: 0x5000, ddl: 0x6000, other: 0x7000 }

// --- SQL text helpers -----------------------------------------------------------------

/** Index just past the Snowflake string literal starting at s[i] ('…', with '' and backslash escapes), and its value. */
function readLiteral(s: string, i: number): [string, number] {
  let out = ''
  let j = i + 1
  for (;;) {
    if (j >= s.length) throw new SfError('001003', `SQL compilation error:\nsyntax error: unterminated string literal`)
    const ch = s[j]!
    if (ch === "'") {
      if (s[j + 1] === "'") {
        out += "'"
        j += 2
        continue
      }
      return [out, j + 1]
    }
    if (ch === '\\') {
      const n = s[j + 1] ?? ''
      out += ({ n: '\n', t: '\t', r: '\r', '0': '\0', b: '\b', f: '\f' } as Record<string, string>)[n] ?? n
      j += 2
      continue
    }
    out += ch
    j++
  }
}

/** Index of the `)` closing the `(` at s[i], quotes respected. */
function matchParen(s: string, i: number): number {
  let depth = 0
  for (let j = i; j < s.length; j++) {
    const ch = s[j]
    if (ch === "'") j = readLiteral(s, j)[1] - 1
    else if (ch === '"') j = s.indexOf('"', j + 1)
    else if (ch === '(') depth++
    else if (ch === ')' && --depth === 0) return j
  }
  throw new SfError('001003', 'SQL compilation error:\nsyntax error: unbalanced parentheses')
}

/** Splits at top-level commas (outside quotes and parentheses). */
function splitTop(s: string): string[] {
  const out: string[] = []
  let depth = 0
  let start = 0
  for (let j = 0; j < s.length; j++) {
    const ch = s[j]
    if (ch === "'") j = readLiteral(s, j)[1] - 1
    else if (ch === '"') j = s.indexOf('"', j + 1)
    else if (ch === '(') depth++
    else if (ch === ')') depth--
    else if (ch === ',' && depth === 0) {
      out.push(s.slice(start, j).trim())
      start = j + 1
    }
  }
  const last = s.slice(start).trim()
  if (last !== '' || out.length > 0) out.push(last)
  return out
}

function duckLiteral(v: string): string {
  return `'${v.replaceAll("'", "''")}'`
}

/** Snowflake functions the models and dialect use, as DuckDB spells them (see COMPAT_MACROS). */
const FUNCTION_REWRITES: Array<[RegExp, string]> = [
  [/\bIFF\s*\(/gi, 'if('],
  [/\bREGEXP_LIKE\s*\(/gi, 'regexp_full_match('],
  [/\bTRY_TO_TIMESTAMP_NTZ\s*\(/gi, 'sf_try_to_timestamp('],
  [/\bTRY_TO_TIMESTAMP\s*\(/gi, 'sf_try_to_timestamp('],
  [/\bTRY_TO_NUMBER\s*\(/gi, 'sf_try_to_number('],
  [/\bDECODE\s*\(/gi, 'sf_decode('],
  [/\bDAYOFWEEKISO\s*\(/gi, 'isodow('],
  [/\bDATEDIFF\s*\(\s*([A-Za-z]+)\s*,/gi, "date_diff('$1',"],
  [/\bTIMESTAMP_NTZ\b/gi, 'TIMESTAMP'],
]

/** DuckDB macros behind the renamed functions, installed in every database. */
const COMPAT_MACROS = [
  `CREATE OR REPLACE MACRO sf_try_to_timestamp(x) AS TRY_CAST(x AS TIMESTAMP), (x, fmt) AS TRY_CAST(x AS TIMESTAMP)`,
  `CREATE OR REPLACE MACRO sf_try_to_number(x) AS TRY_CAST(x AS DECIMAL(38, 0))`,
  `CREATE OR REPLACE MACRO sf_decode${Array.from({ length: 12 }, (_, k) => {
    const pairs = k + 1
    const args = ['e', ...Array.from({ length: pairs }, (_, p) => [`s${p}`, `r${p}`]).flat()]
    const whens = Array.from({ length: pairs }, (_, p) => `WHEN e IS NOT DISTINCT FROM s${p} THEN r${p}`).join(' ')
    return `(${args.join(', ')}) AS CASE ${whens} END, (${[...args, 'd'].join(', ')}) AS CASE ${whens} ELSE d END`
  }).join(', ')}`,
]

/** Snowflake SQL → DuckDB SQL: literals re-quoted (no backslash escapes in DuckDB), functions renamed. */
function translate(sql: string): string {
  let out = ''
  let code = ''
  const flush = (): void => {
    let c = code
    for (const [re, to] of FUNCTION_REWRITES) c = c.replace(re, to)
    out += c
    code = ''
  }
  for (let i = 0; i < sql.length; ) {
    const ch = sql[i]!
    if (ch === "'") {
      flush()
      const [v, end] = readLiteral(sql, i)
      out += duckLiteral(v)
      i = end
    } else if (sql.startsWith('$$', i)) {
      flush()
      const end = sql.indexOf('$$', i + 2)
      out += duckLiteral(sql.slice(i + 2, end))
      i = end + 2
    } else if (ch === '"') {
      flush()
      const end = sql.indexOf('"', i + 1)
      out += sql.slice(i, end + 1)
      i = end + 1
    } else if (sql.startsWith('--', i)) {
      flush()
      const end = sql.indexOf('\n', i)
      i = end < 0 ? sql.length : end
    } else {
      code += ch
      i++
    }
  }
  flush()
  return out
}

/** `NAME = value` options (FILE_FORMAT = (…), FILES = (…), ON_ERROR = x), separated by blanks or commas. */
function parseOptions(text: string): Map<string, string> {
  const opts = new Map<string, string>()
  let rest = text.trim()
  while (rest.length > 0) {
    rest = rest.replace(/^[\s,]+/, '')
    if (rest === '' || rest === ';') break
    const m = /^([A-Za-z_]+)\s*=\s*/.exec(rest)
    if (!m) throw new SfError('001003', `SQL compilation error:\nsyntax error: unexpected '${rest.slice(0, 20)}'`)
    rest = rest.slice(m[0].length)
    let value: string
    if (rest.startsWith('(')) {
      const end = matchParen(rest, 0)
      value = rest.slice(0, end + 1)
      rest = rest.slice(end + 1)
    } else if (rest.startsWith("'")) {
      const [, end] = readLiteral(rest, 0)
      value = rest.slice(0, end)
      rest = rest.slice(end)
    } else {
      const v = /^[^\s,]+/.exec(rest)![0]
      value = v
      rest = rest.slice(v.length)
    }
    opts.set(m[1]!.toUpperCase(), value)
  }
  return opts
}

/** An option value as text: a literal's value, a bare word as written. */
function optionText(v: string | undefined): string | undefined {
  if (v === undefined) return undefined
  return v.startsWith("'") ? readLiteral(v, 0)[0] : v
}

/** `('a', 'b')` → ['a', 'b']. */
function literalList(v: string): string[] {
  const inner = v.trim().replace(/^\(/, '').replace(/\)$/, '')
  return splitTop(inner)
    .filter((x) => x !== '')
    .map((x) => readLiteral(x, 0)[0])
}

/** A Snowflake object name → `schema.name`, lower case (the database part dropped). */
function objectName(name: string, session?: Session): string {
  const parts = name.replaceAll('"', '').toLowerCase().split('.')
  if (parts.length === 3) parts.shift()
  if (parts.length === 1) {
    const schema = session?.params.get('__schema')
    if (!schema) throw new SfError('090106', 'Cannot perform operation. This session does not have a current schema. Call \'USE SCHEMA\', or use a qualified name.', '22000')
    parts.unshift(schema)
  }
  return parts.join('.')
}

// --- CSV reading as Snowflake's file format does ------------------------------------------

interface CsvRecord {
  fields: Array<string | null>
  /** Physical line the record starts on, and each field's first character (1-based). */
  line: number
  chars: number[]
}

interface CsvFormat {
  skipHeader: number
  delimiter: string
  enclosedBy: string | undefined
  emptyFieldAsNull: boolean
  nullIf: string[]
  escapeUnenclosed: string | undefined
  compression: 'gzip' | 'none' | 'auto'
  /** TIMESTAMP_FORMAT / DATE_FORMAT; AUTO (the default) defers to the session's input formats. */
  timestampFormat: string | undefined
  dateFormat: string | undefined
}

const FORMAT_OPTIONS = new Set([
  'TYPE',
  'COMPRESSION',
  'SKIP_HEADER',
  'FIELD_DELIMITER',
  'FIELD_OPTIONALLY_ENCLOSED_BY',
  'EMPTY_FIELD_AS_NULL',
  'NULL_IF',
  'ESCAPE_UNENCLOSED_FIELD',
  'ESCAPE',
  'RECORD_DELIMITER',
  'ENCODING',
  'TIMESTAMP_FORMAT',
  'DATE_FORMAT',
])

function csvFormat(opts: Map<string, string>): CsvFormat {
  for (const k of opts.keys()) {
    if (!FORMAT_OPTIONS.has(k)) throw new SfError('002023', `SQL compilation error:\nfile format option ${k} is not supported by the test endpoint`)
  }
  const type = (optionText(opts.get('TYPE')) ?? 'CSV').toUpperCase()
  if (type !== 'CSV') throw new SfError('002023', `SQL compilation error:\nfile format TYPE = ${type} is not supported by the test endpoint`)
  const enclosed = optionText(opts.get('FIELD_OPTIONALLY_ENCLOSED_BY'))
  const esc = optionText(opts.get('ESCAPE_UNENCLOSED_FIELD'))
  const escape = optionText(opts.get('ESCAPE'))
  if (escape !== undefined && escape.toUpperCase() !== 'NONE') throw new SfError('002023', 'SQL compilation error:\nESCAPE is not supported by the test endpoint')
  const record = optionText(opts.get('RECORD_DELIMITER'))
  if (record !== undefined && record !== '\n') throw new SfError('002023', 'SQL compilation error:\nonly RECORD_DELIMITER = \'\\n\' is supported by the test endpoint')
  const compression = (optionText(opts.get('COMPRESSION')) ?? 'AUTO').toUpperCase()
  return {
    skipHeader: Number(optionText(opts.get('SKIP_HEADER')) ?? 0),
    delimiter: optionText(opts.get('FIELD_DELIMITER')) ?? ',',
    enclosedBy: enclosed === undefined || enclosed.toUpperCase() === 'NONE' ? undefined : enclosed,
    emptyFieldAsNull: (optionText(opts.get('EMPTY_FIELD_AS_NULL')) ?? 'TRUE').toUpperCase() === 'TRUE',
    nullIf: opts.has('NULL_IF') ? literalList(opts.get('NULL_IF')!) : ['\\N'],
    escapeUnenclosed: esc === undefined ? '\\' : esc.toUpperCase() === 'NONE' ? undefined : esc,
    compression: compression === 'GZIP' ? 'gzip' : compression === 'NONE' ? 'none' : 'auto',
    timestampFormat: optionText(opts.get('TIMESTAMP_FORMAT')),
    dateFormat: optionText(opts.get('DATE_FORMAT')),
  }
}

/** Parses CSV text with Snowflake's rules, keeping each record's line for error reports. */
function parseCsv(text: string, f: CsvFormat): CsvRecord[] {
  const records: CsvRecord[] = []
  let i = 0
  let line = 1
  let lineStart = 0
  // Header lines are lines, not records.
  for (let k = 0; k < f.skipHeader && i < text.length; k++) {
    const nl = text.indexOf('\n', i)
    i = nl < 0 ? text.length : nl + 1
    line++
    lineStart = i
  }
  while (i < text.length) {
    const rec: CsvRecord = { fields: [], line, chars: [] }
    for (;;) {
      rec.chars.push(i - lineStart + 1)
      if (f.enclosedBy !== undefined && text[i] === f.enclosedBy) {
        let v = ''
        i++
        for (;;) {
          if (i >= text.length) throw new SfError('100069', `Field delimiter '${f.delimiter}' found while expecting record delimiter '\\n'`, '22000')
          const ch = text[i]!
          if (ch === f.enclosedBy) {
            if (text[i + 1] === f.enclosedBy) {
              v += ch
              i += 2
              continue
            }
            i++
            break
          }
          if (ch === '\n') {
            line++
            lineStart = i + 1
          }
          v += ch
          i++
        }
        rec.fields.push(v)
      } else {
        let v = ''
        while (i < text.length && text[i] !== f.delimiter && text[i] !== '\n') {
          if (f.escapeUnenclosed !== undefined && text[i] === f.escapeUnenclosed && i + 1 < text.length) {
            v += text[i + 1]
            i += 2
          } else v += text[i++]
        }
        if (v.endsWith('\r') && text[i] === '\n') v = v.slice(0, -1)
        rec.fields.push(v === '' ? (f.emptyFieldAsNull ? null : '') : f.nullIf.includes(v) ? null : v)
      }
      if (i >= text.length || text[i] === '\n') {
        i++
        line++
        lineStart = i
        break
      }
      if (text[i] !== f.delimiter) {
        throw new SfError('100066', `Found character '${text[i]}' instead of field delimiter '${f.delimiter}'`, '22000')
      }
      i++
    }
    records.push(rec)
  }
  return records
}

// --- results ----------------------------------------------------------------------------

function statusResult(status: string, typeId = TYPE_ID.other): Result {
  return { cols: [{ name: 'status', type: 'text' }], rows: [[status]], statementTypeId: typeId }
}

/** Epoch seconds with 9 fractional digits, from microseconds. */
function epochText(micros: bigint): string {
  const sec = micros >= 0n ? micros / 1_000_000n : -((-micros + 999_999n) / 1_000_000n)
  const frac = micros - sec * 1_000_000n
  return `${sec}.${frac.toString().padStart(6, '0')}000`
}

function sfColumn(name: string, type: DuckDBType, sql: string): Col {
  // Unquoted names come back upper-cased; a quoted alias keeps its case.
  const shown = sql.includes(`"${name}"`) ? name : name.toUpperCase()
  switch (type.typeId) {
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.UHUGEINT:
      return { name: shown, type: 'fixed', scale: 0 }
    case DuckDBTypeId.DECIMAL:
      return { name: shown, type: 'fixed', scale: (type as DuckDBDecimalType).scale }
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return { name: shown, type: 'real' }
    case DuckDBTypeId.BOOLEAN:
      return { name: shown, type: 'boolean' }
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return { name: shown, type: 'timestamp_ntz', scale: 9 }
    case DuckDBTypeId.DATE:
      return { name: shown, type: 'date' }
    case DuckDBTypeId.TIME:
      return { name: shown, type: 'time', scale: 9 }
    default:
      return { name: shown, type: 'text' }
  }
}

function sfValue(v: DuckDBValue, col: Col): string | null {
  if (v === null) return null
  switch (col.type) {
    case 'boolean':
      return v ? '1' : '0'
    case 'timestamp_ntz':
      return epochText((v as DuckDBTimestampValue).micros)
    case 'date':
      return String((v as DuckDBDateValue).days)
    case 'time':
      return epochText((v as DuckDBTimeValue).micros)
    default:
      return String(v)
  }
}

function fromDuck(reader: DuckDBResultReader, sql: string, typeId: number): Result {
  const types = reader.columnTypes()
  const cols = reader.columnNames().map((n, i) => sfColumn(n, types[i]!, sql))
  return { cols, rows: reader.getRows().map((r) => r.map((v, i) => sfValue(v, cols[i]!))), statementTypeId: typeId }
}

function responseData(queryId: string, r: Result, session: Session): Record<string, unknown> {
  return {
    parameters: [{ name: 'TIMEZONE', value: session.params.get('TIMEZONE') ?? 'UTC' }],
    rowtype: r.cols.map((c) => ({
      name: c.name,
      database: '',
      schema: '',
      table: '',
      type: c.type,
      scale: c.scale ?? (c.type === 'fixed' ? 0 : null),
      precision: c.type === 'fixed' ? 38 : null,
      length: c.type === 'text' ? 16777216 : null,
      byteLength: c.type === 'text' ? 16777216 : null,
      nullable: true,
      collation: null,
    })),
    rowset: r.rows,
    total: r.rows.length,
    returned: r.rows.length,
    queryId,
    databaseProvider: null,
    finalDatabaseName: session.params.get('__database')?.toUpperCase() ?? null,
    finalSchemaName: session.params.get('__schema')?.toUpperCase() ?? null,
    finalWarehouseName: session.warehouse?.toUpperCase() ?? null,
    finalRoleName: session.role?.toUpperCase() ?? null,
    numberOfBinds: 0,
    arrayBindSupported: false,
    statementTypeId: r.statementTypeId,
    version: 1,
    sendResultTime: Date.now(),
    queryResultFormat: 'json',
  }
}

/** A DuckDB error as Snowflake would word the same failure. */
function fromDuckError(err: Error, session: Session, sql: string): SfError {
  const msg = err.message.split('\n')[0]!
  let m: RegExpExecArray | null
  const db = (session.params.get('__database') ?? '').toUpperCase()
  if ((m = /^Catalog Error: (?:Table|View) with name (\S+) does not exist/.exec(msg))) {
    // Snowflake names the object as the statement wrote it (schema-qualified here).
    const written = new RegExp(`(?:[\\w$]+\\.){0,2}${m[1]!.replace(/[^\w$]/g, '')}\\b`, 'i').exec(sql)?.[0] ?? m[1]!
    return new SfError('002003', `SQL compilation error:\nObject '${written.toUpperCase()}' does not exist or not authorized.`, '42S02')
  }
  if ((m = /^Catalog Error: Schema with name (\S+) does not exist/.exec(msg))) {
    return new SfError('002003', `SQL compilation error:\nSchema '${db}.${m[1]!.toUpperCase()}' does not exist or not authorized.`, '02000')
  }
  if ((m = /^Catalog Error: (?:Scalar|Table|Macro) Function with name (\S+) does not exist/.exec(msg))) {
    return new SfError('002140', `SQL compilation error:\nUnknown function ${m[1]!.toUpperCase()}`, '42601')
  }
  if ((m = /^Binder Error: Table "([^"]+)" does not have a column named "([^"]+)"/.exec(msg))) {
    return new SfError('000904', `SQL compilation error: error line 1 at position 0\ninvalid identifier '${m[1]!.toUpperCase()}.${m[2]!.toUpperCase()}'`, '42000')
  }
  if ((m = /^Binder Error: Referenced column "?([^"\s]+)"? not found/.exec(msg))) {
    return new SfError('000904', `SQL compilation error: error line 1 at position 0\ninvalid identifier '${m[1]!.toUpperCase()}'`, '42000')
  }
  if ((m = /^Parser Error: (.*)/.exec(msg))) {
    return new SfError('001003', `SQL compilation error:\nsyntax error line 1 at position 0 ${m[1]}`, '42000')
  }
  if ((m = /^Invalid Input Error: Could not parse string "(.*)" according to format specifier "(.*)"/.exec(msg))) {
    return /%[HIMS]/.test(m[2]!) ? new SfError('100035', `Timestamp '${m[1]}' is not recognized`, '22007') : new SfError('100040', `Date '${m[1]}' is not recognized`, '22007')
  }
  if ((m = /^Conversion Error: (?:invalid timestamp field format|timestamp field value out of range): "(.*?)"/.exec(msg))) {
    return new SfError('100035', `Timestamp '${m[1]}' is not recognized`, '22007')
  }
  if ((m = /^Conversion Error: Could not convert string '(.*)' to/.exec(msg))) {
    return new SfError('100038', `Numeric value '${m[1]}' is not recognized`, '22018')
  }
  if (/^Constraint Error: NOT NULL constraint failed/.test(msg)) {
    return new SfError('100072', 'NULL result in a non-nullable column', '22000')
  }
  return new SfError('000603', `SQL execution internal error: Processing aborted due to error 300002:${msg}`, 'XX000')
}

// --- the endpoint -------------------------------------------------------------------------

export class SnowflakeEndpoint {
  readonly statements: RecordedStatement[] = []
  readonly logins: Array<{ user: string; authenticator: string; ok: boolean; code?: string }> = []
  /** Every HTTP request, `METHOD path` (without query string). */
  readonly requests: string[] = []
  readonly stages = new Map<string, Stage>()
  readonly fileFormats = new Map<string, Map<string, string>>()
  readonly integrations = new Map<string, Integration>()
  readonly users = new Map<string, EndpointUser & { roles: Set<string>; props: Map<string, string> }>()
  /** Statements recorded as accepted without effect (warehouses, roles, grants). */
  readonly accepted: string[] = []
  /** Every time a statement had to wait for another transaction's lock. */
  readonly lockWaits: Array<{ table: string; waiter: string; owner: string }> = []
  /** Transactions ended by SYSTEM$ABORT_TRANSACTION, by id. */
  readonly aborted: string[] = []

  private readonly server: http.Server
  private readonly sockets = new Set<Socket>()
  private readonly sessions = new Map<string, Session>()
  private readonly masterTokens = new Map<string, Session>()
  private readonly byRequestId = new Map<string, Promise<Record<string, unknown>>>()
  private readonly byQueryId = new Map<string, { done: boolean; body: Promise<Record<string, unknown>> }>()
  private readonly loadMetadata = new Map<string, Map<string, string>>()
  private readonly faults: Array<{ pattern: RegExp; fault: Fault; times: number }> = []
  /** Running statements by queryId and requestId, for abort-request. */
  private readonly running = new Map<string, AbortController>()
  /** Statements cancelled by the client, by query id. */
  readonly cancelled: string[] = []
  /** Statements cancelled by their session's STATEMENT_TIMEOUT_IN_SECONDS, by query id. */
  readonly timedOut: string[] = []
  /** Result chunk downloads, `queryId/index`, in arrival order. */
  readonly chunkRequests: string[] = []
  private readonly chunks = new Map<string, { qrmk: string; bodies: Buffer[] }>()
  private readonly chunkFaults: Array<{ index: number; fault: ChunkFault; times: number }> = []
  private stalledChunks: Array<() => void> = []
  private readonly s3: S3Client
  private blackhole: net.Server | undefined
  private readonly blackholeSockets = new Set<Socket>()
  /** Connections the unreachable address accepted (and never answered). */
  unreachableConnections = 0
  /** Network rules (schema.name → IPv4 ranges) and policies (name → the rules they allow). */
  readonly networkRules = new Map<string, string[]>()
  readonly networkPolicies = new Map<string, string[]>()
  /** Privileges granted on tables (`schema.table` → `PRIVILEGE TO ROLE`), and future grants per schema. */
  private readonly tableGrants = new Map<string, Set<string>>()
  private readonly futureGrants = new Map<string, Set<string>>()
  private readonly schemaGrants = new Map<string, Set<string>>()
  /** ALTER SCHEMA … SWAP WITH statements that ran, `a<->b`. */
  readonly swaps: string[] = []
  /** Tables created TRANSIENT (no Fail-safe), `schema.table`. */
  private readonly transientTables = new Set<string>()
  private nextSession = 1
  private nextTx = 1n
  private readonly accountParams: Map<string, string>
  /** Transactions whose session was lost, by transaction id: still open, still holding their locks. */
  private readonly detached = new Map<string, { id: string; user: string; session: number; startedOn: Date; conn: DuckDBConnection; locks: Set<string> }>()
  /** Table write locks: table → the transaction holding it; and who waits. */
  private readonly lockOwners = new Map<string, string>()
  private readonly lockReleased = new EventTarget()
  url = ''

  private constructor(
    private readonly opts: SnowflakeEndpointOptions,
    private readonly db: DuckDBInstance,
    private readonly admin: DuckDBConnection,
  ) {
    for (const [name, u] of Object.entries(opts.users)) this.users.set(name.toUpperCase(), { ...u, roles: new Set(), props: new Map() })
    this.accountParams = new Map(Object.entries(opts.accountParameters ?? {}).map(([k, v]) => [k.toUpperCase(), v]))
    this.s3 = new S3Client({
      region: opts.s3.region ?? 'us-east-1',
      endpoint: opts.s3.endpoint,
      forcePathStyle: true,
      credentials: opts.s3.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    })
    this.server = http.createServer((req, res) => void this.handle(req, res))
    this.server.on('connection', (s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
  }

  static async start(opts: SnowflakeEndpointOptions): Promise<SnowflakeEndpoint> {
    const db = await DuckDBInstance.create(':memory:')
    const admin = await db.connect()
    const ep = new SnowflakeEndpoint(opts, db, admin)
    for (const d of opts.databases ?? []) await ep.createDatabase(d)
    await new Promise<void>((resolve) => ep.server.listen(0, '127.0.0.1', resolve))
    ep.url = `http://127.0.0.1:${(ep.server.address() as { port: number }).port}`
    return ep
  }

  /** The next `times` statements matching `pattern` meet `fault`. */
  faultOn(pattern: RegExp, fault: Fault, times = 1): void {
    this.faults.push({ pattern, fault, times })
  }

  /** Answers the chunk downloads held by a `stall` fault. */
  releaseChunks(): void {
    const held = this.stalledChunks
    this.stalledChunks = []
    for (const answer of held) answer()
  }

  /** The next `times` downloads of result chunk `index` (0: the first chunk after the inline rows) meet `fault`. */
  faultOnChunk(index: number, fault: ChunkFault, times = 1): void {
    this.chunkFaults.push({ index, fault, times })
  }

  /** Runs SQL directly on the endpoint's DuckDB (for assertions), in `database`. */
  async query(sql: string, database = this.opts.databases?.[0] ?? 'careplus'): Promise<Record<string, unknown>[]> {
    await this.admin.run(`USE ${database}`)
    const r = await this.admin.runAndReadAll(sql)
    return r.getRowObjectsJS().map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])))
  }

  /**
   * An address where nothing answers: it accepts TCP connections and never
   * replies (a firewall that drops, a host that hangs), for login timeouts.
   */
  async unreachableUrl(): Promise<string> {
    if (!this.blackhole) {
      const server = net.createServer((socket) => {
        this.unreachableConnections++
        this.blackholeSockets.add(socket)
        socket.on('error', () => {})
        socket.on('close', () => this.blackholeSockets.delete(socket))
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      this.blackhole = server
    }
    return `http://127.0.0.1:${(this.blackhole.address() as { port: number }).port}`
  }

  /** Grants on a table (`PRIVILEGE TO ROLE NAME`), sorted; and whether it is TRANSIENT. */
  grantsOn(table: string): string[] {
    return [...(this.tableGrants.get(table.toLowerCase()) ?? [])].sort()
  }
  isTransient(table: string): boolean {
    return this.transientTables.has(table.toLowerCase())
  }

  /** Whether a network policy admits a client address (IPv4 rules only, as the pipeline's setup writes them). */
  private allowedBy(policy: string, ip: string): boolean {
    const rules = this.networkPolicies.get(policy)
    if (!rules) return false
    const toInt = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0)
    return rules.some((r) =>
      (this.networkRules.get(r) ?? []).some((range) => {
        const [base, bits] = range.split('/')
        const mask = bits === undefined ? 32 : Number(bits)
        if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false
        const shift = 32 - mask
        return mask === 0 || Math.floor(toInt(ip) / 2 ** shift) === Math.floor(toInt(base!) / 2 ** shift)
      }),
    )
  }

  /** Statements whose QUERY_TAG was missing. */
  untagged(): RecordedStatement[] {
    return this.statements.filter((s) => !s.queryTag)
  }

  async close(): Promise<void> {
    // Held downloads are answered (and given a moment to flush), so no client is left retrying a dead address.
    if (this.stalledChunks.length > 0) {
      this.releaseChunks()
      await sleep(100)
    }
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const s of new Set(this.sessions.values())) await this.endSession(s)
    for (const d of this.detached.values()) {
      await d.conn.run('ROLLBACK').catch(() => {})
      d.conn.closeSync()
    }
    this.detached.clear()
    this.blackhole?.close()
    for (const s of this.blackholeSockets) s.destroy()
    this.admin.closeSync()
    this.db.closeSync()
    this.s3.destroy()
  }

  // --- HTTP ---

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    this.requests.push(`${req.method} ${url.pathname}`)
    let body: Record<string, unknown> = {}
    try {
      const chunks: Buffer[] = []
      for await (const c of req) chunks.push(c as Buffer)
      let raw = Buffer.concat(chunks)
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw)
      body = raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {}
    } catch {
      return this.send(res, 400, { success: false, code: '390400', message: 'Invalid request body.', data: null })
    }
    try {
      const path = url.pathname
      if (req.method === 'POST' && path === '/session/v1/login-request') return this.send(res, 200, await this.login(url, body, (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '')))
      const chunk = /^\/chunks\/([^/]+)\/(\d+)$/.exec(path)
      if (req.method === 'GET' && chunk) return await this.sendChunk(req, res, chunk[1]!, Number(chunk[2]))
      if (req.method === 'POST' && path === '/telemetry/send') return this.send(res, 200, { success: true, data: 'Log Received', code: null, message: null })
      const token = /Snowflake Token="([^"]*)"/.exec(req.headers.authorization ?? '')?.[1]
      if (req.method === 'POST' && path === '/session/token-request') return this.send(res, 200, this.renew(token, body))
      const session = token ? this.sessions.get(token) : undefined
      if (!session) {
        return this.send(res, 200, { success: false, code: '390111', message: 'Session no longer exists.  New login required to access the service.', data: null })
      }
      if (req.method === 'POST' && path === '/session' && url.searchParams.get('delete') === 'true') {
        await this.endSession(session)
        return this.send(res, 200, { success: true, data: null, code: null, message: null })
      }
      if (req.method === 'POST' && path === '/session/heartbeat') return this.send(res, 200, { success: true, data: {}, code: null, message: null })
      if (req.method === 'POST' && path === '/queries/v1/query-request') return await this.queryRequest(req, res, url, body, session)
      const abort = /^\/queries\/([^/]+)\/abort-request$/.exec(path)
      if (req.method === 'POST' && abort) {
        const id = abort[1] === 'v1' ? String(body.requestId ?? '') : abort[1]!
        this.running.get(id)?.abort()
        return this.send(res, 200, { success: true, data: null, code: null, message: null })
      }
      const m = /^\/queries\/([^/]+)\/result$/.exec(path)
      if (req.method === 'GET' && m) return this.send(res, 200, await this.pollResult(m[1]!))
      return this.send(res, 404, { success: false, code: '390404', message: `unknown endpoint ${req.method} ${path}`, data: null })
    } catch (err) {
      return this.send(res, 500, { success: false, code: '000603', message: (err as Error).message, data: null })
    }
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }

  // --- sessions ---

  private async login(url: URL, body: Record<string, unknown>, clientIp: string): Promise<Record<string, unknown>> {
    const data = (body.data ?? {}) as Record<string, unknown>
    const loginName = String(data.LOGIN_NAME ?? '')
    const authenticator = String(data.AUTHENTICATOR ?? 'SNOWFLAKE').toUpperCase()
    const user = this.users.get(loginName.toUpperCase())
    const fail = (code: string, message: string): Record<string, unknown> => {
      this.logins.push({ user: loginName, authenticator, ok: false, code })
      return { success: false, code, message, data: { nextAction: null, authnMethod: authenticator === 'SNOWFLAKE_JWT' ? 'KEY_PAIR' : 'PASSWORD' } }
    }
    if (String(data.ACCOUNT_NAME ?? '').toUpperCase() !== this.opts.account.toUpperCase()) {
      return fail('390100', 'Incorrect username or password was specified.')
    }
    if (authenticator === 'SNOWFLAKE_JWT') {
      if (!user?.rsaPublicKey || !this.validJwt(String(data.TOKEN ?? ''), loginName, user.rsaPublicKey)) return fail('390144', `JWT token is invalid. [${randomUUID()}]`)
    } else if (authenticator === 'SNOWFLAKE') {
      if (!user || user.password === undefined || user.password !== data.PASSWORD) return fail('390100', 'Incorrect username or password was specified.')
    } else {
      return fail('390100', `Authenticator ${authenticator} is not supported by the test endpoint.`)
    }
    const policy = user?.props.get('NETWORK_POLICY')
    if (policy && !this.allowedBy(policy.toLowerCase(), clientIp)) {
      return fail('390422', `Incoming request with IP/Token ${clientIp} is not allowed to access Snowflake. Contact your account administrator. For more information about this error, go to https://community.snowflake.com/s/ip-xxxxxxxxxxxx-is-not-allowed-to-access.`)
    }
    const session: Session = {
      // Session ids are large numbers, as Snowflake's are.
      id: 1_729_000_000_000 + this.nextSession++ * 7919,
      txId: undefined,
      txStartedOn: undefined,
      locks: new Set(),
      token: `ST-${randomBytes(12).toString('hex')}`,
      masterToken: `MT-${randomBytes(12).toString('hex')}`,
      user: loginName.toUpperCase(),
      role: url.searchParams.get('roleName') ?? undefined,
      warehouse: url.searchParams.get('warehouse') ?? undefined,
      conn: await this.db.connect(),
      inTx: false,
      alive: true,
      params: new Map(),
      queue: Promise.resolve(),
      pendingLoads: [],
    }
    await this.installSessionMacros(session)
    const database = url.searchParams.get('databaseName')
    if (database) await this.useDatabase(session, database).catch(() => {})
    if (url.searchParams.get('schemaName')) session.params.set('__schema', url.searchParams.get('schemaName')!.toLowerCase())
    this.sessions.set(session.token, session)
    this.masterTokens.set(session.masterToken, session)
    this.logins.push({ user: loginName, authenticator, ok: true })
    return {
      success: true,
      code: null,
      message: null,
      data: {
        token: session.token,
        masterToken: session.masterToken,
        validityInSeconds: 3600,
        masterValidityInSeconds: 14400,
        sessionId: session.id,
        parameters: [
          { name: 'TIMEZONE', value: 'UTC' },
          { name: 'CLIENT_SESSION_KEEP_ALIVE_HEARTBEAT_FREQUENCY', value: 3600 },
        ],
        sessionInfo: {
          databaseName: session.params.get('__database')?.toUpperCase() ?? null,
          schemaName: null,
          warehouseName: session.warehouse?.toUpperCase() ?? null,
          roleName: session.role?.toUpperCase() ?? null,
        },
      },
    }
  }

  /** Key-pair login: an RS256 JWT for ACCOUNT.USER, signed by the key whose public half the user holds. */
  private validJwt(token: string, loginName: string, rsaPublicKey: string): boolean {
    const [h, p, s] = token.split('.')
    if (!h || !p || !s) return false
    try {
      const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string }
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as { iss?: string; sub?: string }
      const key = createPublicKey({ key: Buffer.from(rsaPublicKey, 'base64'), format: 'der', type: 'spki' })
      const fingerprint = `SHA256:${createHash('sha256').update(key.export({ format: 'der', type: 'spki' })).digest('base64')}`
      const account = this.opts.account.toUpperCase()
      const user = loginName.toUpperCase()
      return (
        header.alg === 'RS256' &&
        payload.sub === `${account}.${user}` &&
        payload.iss === `${account}.${user}.${fingerprint}` &&
        verify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))
      )
    } catch {
      return false
    }
  }

  private renew(masterToken: string | undefined, body: Record<string, unknown>): Record<string, unknown> {
    const session = masterToken ? this.masterTokens.get(masterToken) : undefined
    if (!session || !session.alive) return { success: false, code: '390114', message: 'Authentication token has expired.  The user must authenticate again.', data: null }
    this.sessions.delete(String(body.oldSessionToken ?? session.token))
    session.token = `ST-${randomBytes(12).toString('hex')}`
    this.sessions.set(session.token, session)
    return { success: true, code: null, message: null, data: { sessionToken: session.token, validityInSecondsST: 3600, masterToken: session.masterToken, validityInSecondsMT: 14400 } }
  }

  /** Ends a session: its open transaction rolls back, its tokens stop working. */
  private async endSession(session: Session): Promise<void> {
    if (!session.alive) return
    session.alive = false
    this.sessions.delete(session.token)
    this.masterTokens.delete(session.masterToken)
    await session.queue.catch(() => {})
    if (session.inTx) await session.conn.run('ROLLBACK').catch(() => {})
    this.endTransaction(session)
    session.conn.closeSync()
  }

  /**
   * A session lost abruptly: its tokens stop working at once, but its open
   * transaction is detached rather than rolled back, keeping its locks.
   */
  private async dropSession(session: Session): Promise<void> {
    if (!session.alive) return
    session.alive = false
    this.sessions.delete(session.token)
    this.masterTokens.delete(session.masterToken)
    await session.queue.catch(() => {})
    if (session.inTx && session.txId) {
      this.detached.set(session.txId, { id: session.txId, user: session.user, session: session.id, startedOn: session.txStartedOn ?? new Date(), conn: session.conn, locks: session.locks })
      // The detached transaction keeps the connection; the session keeps nothing.
      session.locks = new Set()
      session.inTx = false
      session.txId = undefined
      session.pendingLoads = []
    } else {
      this.endTransaction(session)
      session.conn.closeSync()
    }
  }

  /** Forgets the session's transaction: its locks are released, its pending load metadata dropped. */
  private endTransaction(session: Session): void {
    session.inTx = false
    session.txId = undefined
    session.txStartedOn = undefined
    session.pendingLoads = []
    this.releaseLocks(session.locks)
  }

  private releaseLocks(locks: Set<string>): void {
    for (const table of locks) this.lockOwners.delete(table)
    locks.clear()
    this.lockReleased.dispatchEvent(new Event('released'))
  }

  /**
   * DELETE, UPDATE and MERGE lock their table until the transaction ends
   * (Snowflake's partition locks, here per table): another transaction's
   * statement on it waits, at most LOCK_TIMEOUT seconds (0: not at all),
   * then fails with 000625. INSERT and COPY add partitions and do not wait.
   */
  private async acquireLock(session: Session, table: string, signal: AbortSignal | undefined): Promise<void> {
    const mine = session.txId ?? `autocommit-${session.id}`
    const timeoutS = Number(this.param(session, 'LOCK_TIMEOUT') ?? 43_200)
    const deadline = Date.now() + timeoutS * 1000
    for (;;) {
      const owner = this.lockOwners.get(table)
      if (owner === undefined || owner === mine) break
      signal?.throwIfAborted()
      const left = deadline - Date.now()
      if (left <= 0) {
        throw new SfError(
          '000625',
          `Statement '${randomUUID()}' has locked table '${table.split('.').at(-1)!.toUpperCase()}' in transaction ${owner} and this lock has not yet been released. Your statement was aborted because it waited for this lock longer than LOCK_TIMEOUT (${timeoutS} seconds).`,
          '57014',
        )
      }
      this.lockWaits.push({ table, waiter: mine, owner })
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer)
          this.lockReleased.removeEventListener('released', done)
          signal?.removeEventListener('abort', done)
          resolve()
        }
        const timer = setTimeout(done, left)
        this.lockReleased.addEventListener('released', done)
        signal?.addEventListener('abort', done)
      })
    }
    // An autocommitted statement holds the lock only while it runs (the caller releases it).
    this.lockOwners.set(table, mine)
    session.locks.add(table)
  }

  // --- queries ---

  private async queryRequest(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: Record<string, unknown>, session: Session): Promise<void> {
    const requestId = url.searchParams.get('requestId') ?? randomUUID()
    const sql = String(body.sqlText ?? '')
    // A retry of a request already received gets that request's answer.
    const earlier = this.byRequestId.get(requestId)
    if (earlier) return this.send(res, 200, await earlier)

    const fault = this.takeFault(sql)
    if (fault === 'lose-session') {
      // The client's connection drops and its session ends, but an open
      // transaction stays behind, detached, holding its locks (Snowflake
      // aborts it after ~4 hours, or SYSTEM$ABORT_TRANSACTION does).
      req.socket.destroy()
      await this.dropSession(session)
      return
    }
    const params = (body.parameters ?? {}) as Record<string, unknown>
    const bindings = Object.entries((body.bindings ?? {}) as Record<string, { type: string; value: string | null }>)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([, b]) => b)
    const record: RecordedStatement = {
      session: session.id,
      requestId,
      role: session.role?.toUpperCase(),
      sql,
      queryTag: typeof params.QUERY_TAG === 'string' ? params.QUERY_TAG : session.params.get('QUERY_TAG'),
      bindings: bindings.map((b) => b.value),
    }
    this.statements.push(record)
    const queryId = `01${randomBytes(7).toString('hex')}-0000-${randomBytes(2).toString('hex')}-0000-${randomBytes(6).toString('hex')}`
    const entry = { done: false, body: Promise.resolve({} as Record<string, unknown>) }
    const cancel = new AbortController()
    this.running.set(queryId, cancel)
    this.running.set(requestId, cancel)
    entry.body = this.serialised(session, () => this.runStatement(session, sql, bindings, fault === 'stall', cancel, queryId))
      .then(
        (r) => ({ success: true, code: null, message: null, data: this.resultData(queryId, r, session) }),
        (err: unknown) => {
          const e = err instanceof SfError ? err : fromDuckError(err as Error, session, sql)
          record.error = { code: e.code, message: e.message }
          return { success: false, code: e.code, message: e.message, data: { queryId, sqlState: e.sqlState, errorCode: e.code, internalError: false, age: 0 } }
        },
      )
      .finally(() => {
        entry.done = true
        this.running.delete(queryId)
        this.running.delete(requestId)
      })
    this.byQueryId.set(queryId, entry)
    const answer = this.answer(queryId, entry)
    this.byRequestId.set(requestId, answer)
    const out = await answer
    if (fault === 'drop-response') {
      // Executed, but the answer never arrives: the driver retries with the same requestId.
      req.socket.destroy()
      return
    }
    this.send(res, 200, out)
  }

  /** The result, or "still running" with where to poll when it takes longer than asyncAfterMs. */
  private async answer(queryId: string, entry: { done: boolean; body: Promise<Record<string, unknown>> }): Promise<Record<string, unknown>> {
    const waitMs = this.opts.asyncAfterMs ?? 45_000
    const timer = new AbortController()
    const finished = await Promise.race([entry.body.then(() => true), sleep(waitMs, false, { signal: timer.signal, ref: false }).catch(() => false)])
    timer.abort()
    if (finished) return entry.body
    return {
      success: true,
      code: '333334',
      message: 'Asynchronous execution in progress. Use provided query id to perform query monitoring and management.',
      data: { queryId, getResultUrl: `/queries/${queryId}/result`, queryAbortsAfterSecs: 300, progressDesc: null },
    }
  }

  private async pollResult(queryId: string): Promise<Record<string, unknown>> {
    const entry = this.byQueryId.get(queryId)
    if (!entry) return { success: false, code: '000709', message: `Statement ${queryId} not found`, data: { queryId } }
    return this.answer(queryId, entry)
  }

  /**
   * Runs a statement under the session's STATEMENT_TIMEOUT_IN_SECONDS (the
   * statement is cancelled and fails with 000630 past it) and the client's
   * abort-request (000604). `stall` holds it until one of them ends it.
   * After a cancel, waits for DuckDB to stop before the session's next
   * statement may start.
   */
  private async runStatement(
    session: Session,
    sql: string,
    bindings: Array<{ type: string; value: string | null }>,
    stall: boolean,
    cancel: AbortController,
    queryId: string,
  ): Promise<Result> {
    const configured = Number(this.param(session, 'STATEMENT_TIMEOUT_IN_SECONDS') ?? 172_800)
    const timeoutS = configured === 0 ? 604_800 : configured
    const timer = setTimeout(() => cancel.abort('timeout'), timeoutS * 1000)
    timer.unref()
    const stopped = new Promise<never>((_, reject) => {
      const onAbort = (): void => reject(cancel.signal.reason === 'timeout' ? 'timeout' : 'client')
      if (cancel.signal.aborted) onAbort()
      else cancel.signal.addEventListener('abort', onAbort, { once: true })
    })
    stopped.catch(() => {})
    const work = stall ? new Promise<never>(() => {}) : this.execute(session, sql, bindings, cancel.signal)
    work.catch(() => {})
    try {
      return await Promise.race([work, stopped])
    } catch (err) {
      if (err !== 'timeout' && err !== 'client') throw err
      if (!stall) {
        session.conn.interrupt()
        await work.catch(() => {})
      }
      if (err === 'timeout') {
        this.timedOut.push(queryId)
        throw new SfError('000630', `Statement reached its statement or warehouse timeout of ${timeoutS} second(s) and was canceled.`, '57014')
      }
      this.cancelled.push(queryId)
      throw new SfError('000604', 'SQL execution canceled', '57014')
    } finally {
      clearTimeout(timer)
    }
  }

  /** A session parameter: the session's own value, else the account's (accountParameters), else Snowflake's default format. */
  private param(session: Session, name: string): string | undefined {
    return session.params.get(name) ?? this.accountParams.get(name) ?? FORMAT_DEFAULTS[name]
  }

  /** (Re)creates the session's format macros (see snowflakeFormats.ts) from its parameters. */
  private async installSessionMacros(session: Session): Promise<void> {
    let macros: string[]
    try {
      macros = sessionMacros((n) => this.param(session, n) ?? '')
    } catch (err) {
      if (err instanceof UnsupportedFormat) throw new SfError('002023', `SQL compilation error:\n${err.message}`)
      throw err
    }
    for (const sql of macros) await session.conn.run(sql)
  }

  /** The result as Snowflake sends it: a large one in chunks, the first inline, the others to download. */
  private resultData(queryId: string, r: Result, session: Session): Record<string, unknown> {
    const data = responseData(queryId, r, session)
    // The session's formats travel with every result, as Snowflake sends them (the driver formats SfDate text with them).
    data.parameters = ['TIMEZONE', ...FORMAT_PARAMETERS].map((name) => ({ name, value: this.param(session, name) ?? (name === 'TIMEZONE' ? 'UTC' : '') }))
    const per = this.opts.resultChunkRows ?? 1000
    if (r.rows.length <= per) return data
    const parts: Array<Array<Array<string | null>>> = []
    for (let i = per; i < r.rows.length; i += per) parts.push(r.rows.slice(i, i + per))
    // A chunk object is the rows without the enclosing brackets, gzipped.
    const texts = parts.map((p) => JSON.stringify(p).slice(1, -1))
    const qrmk = randomBytes(32).toString('base64')
    const bodies = texts.map((t) => gzipSync(Buffer.from(t, 'utf8')))
    this.chunks.set(queryId, { qrmk, bodies })
    data.rowset = r.rows.slice(0, per)
    data.qrmk = qrmk
    data.chunks = parts.map((p, i) => ({
      url: `${this.url}/chunks/${queryId}/${i}`,
      rowCount: p.length,
      uncompressedSize: Buffer.byteLength(texts[i]!),
      compressedSize: bodies[i]!.length,
    }))
    return data
  }

  /** GET of a result chunk, as cloud storage answers it (the key the result named must come along). */
  private async sendChunk(req: http.IncomingMessage, res: http.ServerResponse, queryId: string, index: number): Promise<void> {
    this.chunkRequests.push(`${queryId}/${index}`)
    const chunk = this.chunks.get(queryId)
    const body = chunk?.bodies[index]
    const xml = (status: number, code: string): void => {
      res.writeHead(status, { 'content-type': 'application/xml' })
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code></Error>`)
    }
    if (!chunk || !body) return xml(404, 'NoSuchKey')
    if (req.headers['x-amz-server-side-encryption-customer-key'] !== chunk.qrmk) return xml(400, 'InvalidArgument')
    const f = this.chunkFaults.find((x) => x.times > 0 && x.index === index)
    if (f) f.times--
    // Not answered until releaseChunks() (or close()) lets it through: the client sees a download that stops delivering.
    if (f?.fault === 'stall') {
      this.stalledChunks.push(() => {
        if (!res.writableEnded && !res.destroyed) {
          res.writeHead(200, { 'content-type': 'binary/octet-stream', 'content-encoding': 'gzip', 'content-length': body.length })
          res.end(body)
        }
      })
      return
    }
    res.writeHead(200, { 'content-type': 'binary/octet-stream', 'content-encoding': 'gzip', 'content-length': body.length })
    if (f?.fault === 'cut') {
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy())
      return
    }
    res.end(body)
  }

  private takeFault(sql: string): Fault | undefined {
    const f = this.faults.find((x) => x.times > 0 && x.pattern.test(sql))
    if (!f) return undefined
    f.times--
    return f.fault
  }

  /** One statement at a time per session, as its transaction requires. */
  private serialised<T>(session: Session, fn: () => Promise<T>): Promise<T> {
    const next = session.queue.then(fn, fn)
    session.queue = next.catch(() => {})
    return next
  }

  private async execute(session: Session, rawSql: string, bindings: Array<{ type: string; value: string | null }>, signal?: AbortSignal): Promise<Result> {
    if (!session.alive) throw new SfError('390111', 'Session no longer exists.  New login required to access the service.', '08003')
    const sql = rawSql.trim().replace(/;\s*$/, '')
    const words = sql.replace(/^(\s*--[^\n]*\n)+/, '').trim().split(/\s+/, 4).map((w) => w.toUpperCase())
    const [w0, w1] = words
    if (w0 === 'BEGIN' || (w0 === 'START' && w1 === 'TRANSACTION')) {
      if (!session.inTx) {
        await session.conn.run('BEGIN TRANSACTION')
        session.inTx = true
        // Transaction ids are signed 64-bit integers, beyond a JS number's precision.
        session.txId = String(1_651_535_571_261_000_000n + this.nextTx++)
        session.txStartedOn = new Date()
      }
      return statusResult(STATUS_OK, TYPE_ID.tcl)
    }
    if (w0 === 'COMMIT') {
      await this.commit(session)
      return statusResult(STATUS_OK, TYPE_ID.tcl)
    }
    if (w0 === 'ROLLBACK') {
      if (session.inTx) await session.conn.run('ROLLBACK')
      this.endTransaction(session)
      return statusResult(STATUS_OK, TYPE_ID.tcl)
    }
    if (w0 === 'SHOW' && w1 === 'TRANSACTIONS') return this.showTransactions(session)
    const abortTx = /^SELECT\s+SYSTEM\$ABORT_TRANSACTION\s*\(\s*(\d+)\s*\)(?:\s+AS\s+\w+)?$/i.exec(sql)
    if (abortTx) return this.abortTransaction(session, abortTx[1]!)
    if (w0 === 'DELETE' || w0 === 'UPDATE' || w0 === 'MERGE') {
      const target = /^(?:DELETE\s+FROM|UPDATE|MERGE\s+INTO)\s+([\w$."]+)/i.exec(sql)
      if (target) {
        const table = objectName(target[1]!, session)
        await this.acquireLock(session, table, signal)
        if (!session.inTx) {
          try {
            return await this.duck(session, sql, bindings)
          } finally {
            this.lockOwners.delete(table)
            this.releaseLocks(session.locks)
          }
        }
      }
    }
    if (w0 === 'ALTER' && w1 === 'SESSION') return this.alterSession(session, sql)
    if (w0 === 'USE') return this.use(session, sql)
    if (w0 === 'COPY' && w1 === 'INTO') return this.copyInto(session, sql)
    if (w0 === 'LIST' || w0 === 'LS') return this.list(session, sql)
    if ((w0 === 'DESC' || w0 === 'DESCRIBE') && (w1 === 'INTEGRATION' || w1 === 'STORAGE')) return this.describeIntegration(sql)
    if (w0 === 'CREATE' || w0 === 'ALTER' || w0 === 'DROP' || w0 === 'GRANT' || w0 === 'REVOKE' || w0 === 'TRUNCATE') {
      // Snowflake: a DDL statement commits the open transaction, then runs in its own.
      await this.commit(session)
      return this.ddl(session, sql)
    }
    return this.duck(session, sql, bindings)
  }

  private async commit(session: Session): Promise<void> {
    if (!session.inTx) return
    await session.conn.run('COMMIT')
    for (const l of session.pendingLoads) this.remember(l.table, l.file, l.etag)
    this.endTransaction(session)
  }

  /** SHOW TRANSACTIONS: the current user's running transactions, in every session, detached ones included. */
  private showTransactions(session: Session): Result {
    const live = [...new Set(this.sessions.values())]
      .filter((x) => x.inTx && x.txId && x.user === session.user)
      .map((x) => ({ id: x.txId!, user: x.user, session: x.id, startedOn: x.txStartedOn ?? new Date() }))
    const detached = [...this.detached.values()].filter((d) => d.user === session.user)
    return {
      cols: [
        { name: 'id', type: 'fixed', scale: 0 },
        { name: 'user', type: 'text' },
        { name: 'session', type: 'fixed', scale: 0 },
        { name: 'name', type: 'text' },
        { name: 'started_on', type: 'text' },
        { name: 'state', type: 'text' },
        { name: 'scope', type: 'fixed', scale: 0 },
      ],
      rows: [...live, ...detached].map((x) => [x.id, x.user, String(x.session), randomUUID(), x.startedOn.toISOString(), 'running', '0']),
      statementTypeId: TYPE_ID.other,
    }
  }

  /** SYSTEM$ABORT_TRANSACTION(id): rolls back a transaction of the current user, detached or in another session. */
  private async abortTransaction(session: Session, id: string): Promise<Result> {
    const d = this.detached.get(id)
    const live = [...new Set(this.sessions.values())].find((x) => x.txId === id)
    const owner = d?.user ?? live?.user
    if (!owner || owner !== session.user) throw new SfError('000605', `Transaction ${id} does not exist or is not owned by the current user.`, '42601')
    if (d) {
      this.detached.delete(id)
      await d.conn.run('ROLLBACK').catch(() => {})
      d.conn.closeSync()
      this.releaseLocks(d.locks)
    } else if (live) {
      await this.serialisedAbort(live)
    }
    this.aborted.push(id)
    const r: Result = { cols: [{ name: `SYSTEM$ABORT_TRANSACTION(${id})`, type: 'text' }], rows: [[`Aborted transaction ${id}.`]], statementTypeId: TYPE_ID.select }
    return r
  }

  /** Rolls back another live session's open transaction. */
  private async serialisedAbort(other: Session): Promise<void> {
    if (other.inTx) await other.conn.run('ROLLBACK').catch(() => {})
    this.endTransaction(other)
  }

  private remember(table: string, file: string, etag: string): void {
    let m = this.loadMetadata.get(table)
    if (!m) this.loadMetadata.set(table, (m = new Map()))
    m.set(file, etag)
  }

  private async duck(session: Session, sql: string, bindings: Array<{ type: string; value: string | null }>): Promise<Result> {
    // Casts follow the session's formats; CURRENT_SESSION() is the session's id, as text.
    const translated = translate(rewriteCasts(sql)).replace(/\bCURRENT_SESSION\s*\(\s*\)/gi, `'${session.id}'`)
    const stmt = await session.conn.prepare(translated)
    this.bind(stmt, bindings)
    const type = stmt.statementType as number
    const reader = await stmt.runAndReadAll()
    switch (type) {
      case 2:
        return { cols: [{ name: 'number of rows inserted', type: 'fixed' }], rows: [[String(reader.rowsChanged)]], statementTypeId: TYPE_ID.insert }
      case 3:
        return {
          cols: [
            { name: 'number of rows updated', type: 'fixed' },
            { name: 'number of multi-joined rows updated', type: 'fixed' },
          ],
          rows: [[String(reader.rowsChanged), '0']],
          statementTypeId: TYPE_ID.update,
        }
      case 5:
        return { cols: [{ name: 'number of rows deleted', type: 'fixed' }], rows: [[String(reader.rowsChanged)]], statementTypeId: TYPE_ID.delete }
      case 1:
        return fromDuck(reader, sql, TYPE_ID.select)
      default:
        return statusResult(STATUS_OK)
    }
  }

  private bind(stmt: DuckDBPreparedStatement, bindings: Array<{ type: string; value: string | null }>): void {
    bindings.forEach((b, k) => {
      const i = k + 1
      if (b.value === null || b.value === undefined) stmt.bindNull(i)
      else if (b.type === 'FIXED' && /^-?\d+$/.test(b.value)) stmt.bindBigInt(i, BigInt(b.value))
      else if (b.type === 'FIXED' || b.type === 'REAL') stmt.bindDouble(i, Number(b.value))
      else if (b.type === 'BOOLEAN') stmt.bindBoolean(i, b.value === 'true' || b.value === '1')
      else stmt.bindVarchar(i, b.value)
    })
  }

  private async alterSession(session: Session, sql: string): Promise<Result> {
    const m = /^ALTER\s+SESSION\s+(SET|UNSET)\s+([\s\S]+)$/i.exec(sql)
    if (!m) throw new SfError('001003', 'SQL compilation error:\nsyntax error in ALTER SESSION')
    const changed: string[] = []
    if (m[1]!.toUpperCase() === 'UNSET') {
      for (const name of m[2]!.split(/[\s,]+/).filter(Boolean)) {
        session.params.delete(name.toUpperCase())
        changed.push(name.toUpperCase())
      }
    } else {
      for (const [k, v] of parseOptions(m[2]!)) {
        const value = optionText(v)!
        if ((k === 'STATEMENT_TIMEOUT_IN_SECONDS' || k === 'LOCK_TIMEOUT') && !/^\d+$/.test(value)) {
          throw new SfError('002063', `SQL compilation error:\ninvalid value [${value}] for parameter '${k}'`, '22023')
        }
        session.params.set(k, value)
        changed.push(k)
      }
    }
    if (changed.some((k) => FORMAT_PARAMETERS.has(k))) await this.installSessionMacros(session)
    return statusResult(STATUS_OK)
  }

  private async useDatabase(session: Session, name: string): Promise<void> {
    const db = name.replaceAll('"', '').toLowerCase()
    try {
      await session.conn.run(`USE ${db}`)
    } catch {
      throw new SfError('002043', `SQL compilation error:\nObject does not exist, or operation cannot be performed.`, '02000')
    }
    session.params.set('__database', db)
    session.params.delete('__schema')
  }

  private async use(session: Session, sql: string): Promise<Result> {
    const m = /^USE\s+(?:(ROLE|WAREHOUSE|DATABASE|SCHEMA)\s+)?("?[\w$.]+"?)$/i.exec(sql)
    if (!m) throw new SfError('001003', 'SQL compilation error:\nsyntax error in USE')
    const kind = (m[1] ?? 'DATABASE').toUpperCase()
    const name = m[2]!
    if (kind === 'ROLE') session.role = name
    else if (kind === 'WAREHOUSE') session.warehouse = name
    else if (kind === 'DATABASE') await this.useDatabase(session, name)
    else {
      const parts = name.replaceAll('"', '').toLowerCase().split('.')
      if (parts.length === 2) await this.useDatabase(session, parts[0]!)
      session.params.set('__schema', parts.at(-1)!)
    }
    return statusResult(STATUS_OK)
  }

  private async createDatabase(name: string): Promise<void> {
    await this.admin.run(`ATTACH IF NOT EXISTS ':memory:' AS ${name.toLowerCase()}`)
    for (const sql of COMPAT_MACROS) await this.admin.run(sql.replace('MACRO ', `MACRO ${name.toLowerCase()}.main.`))
  }

  private async ddl(session: Session, sql: string): Promise<Result> {
    let m: RegExpExecArray | null
    this.checkAccountPrivilege(session, sql)
    if ((m = /^ALTER\s+SCHEMA\s+(IF\s+EXISTS\s+)?([\w$."]+)\s+SWAP\s+WITH\s+([\w$."]+)$/i.exec(sql))) return this.swapSchemas(session, m[2]!, m[3]!)
    if ((m = /^CREATE\s+(OR\s+REPLACE\s+)?(TRANSIENT\s+)?TABLE\s+(IF\s+NOT\s+EXISTS\s+)?([\w$."]+)\s+(COPY\s+GRANTS\s+)?AS\s+([\s\S]+)$/i.exec(sql))) {
      return this.createTableAs(session, { replace: !!m[1], transient: !!m[2], ifNotExists: !!m[3], name: m[4]!, copyGrants: !!m[5], query: m[6]! })
    }
    if ((m = /^CREATE\s+(OR\s+REPLACE\s+)?(TRANSIENT\s+)?TABLE\s+([\w$."]+)\s+LIKE\s+([\w$."]+)(\s+COPY\s+GRANTS)?$/i.exec(sql))) {
      // An empty copy of the source's columns; COPY GRANTS takes the source's grants.
      const name = objectName(m[3]!, session)
      const source = objectName(m[4]!, session)
      await this.duck(session, `CREATE ${m[1] ? 'OR REPLACE ' : ''}TABLE ${m[3]!} AS SELECT * FROM ${m[4]!} LIMIT 0`, [])
      this.tableGrants.set(name, new Set(m[5] ? (this.tableGrants.get(source) ?? []) : (this.futureGrants.get(name.split('.')[0]!) ?? [])))
      if (m[2]) this.transientTables.add(name)
      else this.transientTables.delete(name)
      return statusResult(`Table ${name.split('.').at(-1)!.toUpperCase()} successfully created.`, TYPE_ID.ddl)
    }
    if ((m = /^GRANT\s+([\w\s,]+?)\s+ON\s+(TABLE|FUTURE\s+TABLES\s+IN\s+SCHEMA|ALL\s+TABLES\s+IN\s+SCHEMA|SCHEMA)\s+([\w$."]+)\s+TO\s+ROLE\s+([\w$]+)$/i.exec(sql))) {
      return this.grantOn(session, m[1]!, m[2]!.toUpperCase().replace(/\s+/g, ' '), m[3]!, m[4]!)
    }
    if ((m = /^CREATE\s+(?:OR\s+REPLACE\s+)?NETWORK\s+RULE\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w$."]+)\s+([\s\S]*)$/i.exec(sql))) {
      const opts = parseOptions(m[2]!)
      if ((optionText(opts.get('TYPE')) ?? '').toUpperCase() !== 'IPV4' || (optionText(opts.get('MODE')) ?? 'INGRESS').toUpperCase() !== 'INGRESS') {
        throw new SfError('002023', 'SQL compilation error:\nonly TYPE = IPV4 MODE = INGRESS network rules are supported by the test endpoint')
      }
      const values = opts.get('VALUE_LIST')
      if (!values) throw new SfError('001003', 'SQL compilation error:\nmissing VALUE_LIST')
      this.networkRules.set(objectName(m[1]!, session), literalList(values))
      return statusResult(`Network rule ${m[1]!.split('.').at(-1)!.toUpperCase()} successfully created.`, TYPE_ID.ddl)
    }
    if ((m = /^CREATE\s+(?:OR\s+REPLACE\s+)?NETWORK\s+POLICY\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w$]+)\s+([\s\S]*)$/i.exec(sql))) {
      const list = parseOptions(m[2]!).get('ALLOWED_NETWORK_RULE_LIST')
      if (!list) throw new SfError('001003', 'SQL compilation error:\nmissing ALLOWED_NETWORK_RULE_LIST')
      const rules = literalList(list).map((r) => objectName(r, session))
      for (const r of rules) if (!this.networkRules.has(r)) throw new SfError('002003', `SQL compilation error:\nNetwork rule '${r.toUpperCase()}' does not exist or not authorized.`, '02000')
      this.networkPolicies.set(m[1]!.toLowerCase(), rules)
      return statusResult(`Network policy ${m[1]!.toUpperCase()} successfully created.`, TYPE_ID.ddl)
    }
    if ((m = /^CREATE\s+(?:OR\s+REPLACE\s+)?DATABASE\s+(?:IF\s+NOT\s+EXISTS\s+)?("?[\w$]+"?)/i.exec(sql))) {
      await this.createDatabase(m[1]!.replaceAll('"', ''))
      if (!session.params.get('__database')) await this.useDatabase(session, m[1]!)
      return statusResult(`Database ${m[1]!.toUpperCase()} successfully created.`, TYPE_ID.ddl)
    }
    if ((m = /^CREATE\s+(OR\s+REPLACE\s+)?(?:SECURE\s+)?FUNCTION\s+(IF\s+NOT\s+EXISTS\s+)?([\w$.]+)\s*\(([^)]*)\)\s*RETURNS\s+([\w]+(?:\s*\([\d,\s]*\))?)\s+(?:LANGUAGE\s+SQL\s+)?AS\s+([\s\S]+)$/i.exec(sql))) {
      return this.createFunction(session, m)
    }
    if ((m = /^CREATE\s+(OR\s+REPLACE\s+)?STAGE\s+(IF\s+NOT\s+EXISTS\s+)?([\w$."]+)\s*([\s\S]*)$/i.exec(sql))) return this.createStage(session, m)
    if ((m = /^CREATE\s+(OR\s+REPLACE\s+)?FILE\s+FORMAT\s+(IF\s+NOT\s+EXISTS\s+)?([\w$."]+)\s*([\s\S]*)$/i.exec(sql))) {
      const name = objectName(m[3]!, session)
      if (this.fileFormats.has(name) && m[2] && !m[1]) return statusResult(`${name.toUpperCase()} already exists, statement succeeded.`, TYPE_ID.ddl)
      const opts = parseOptions(m[4]!)
      csvFormat(opts)
      this.fileFormats.set(name, opts)
      return statusResult(`File format ${name.split('.').at(-1)!.toUpperCase()} successfully created.`, TYPE_ID.ddl)
    }
    if ((m = /^CREATE\s+(OR\s+REPLACE\s+)?STORAGE\s+INTEGRATION\s+(IF\s+NOT\s+EXISTS\s+)?([\w$]+)\s+([\s\S]*)$/i.exec(sql))) {
      const name = m[3]!.toLowerCase()
      if (this.integrations.has(name) && m[2] && !m[1]) return statusResult(`${name.toUpperCase()} already exists, statement succeeded.`, TYPE_ID.ddl)
      const opts = parseOptions(m[4]!)
      if ((optionText(opts.get('TYPE')) ?? '').toUpperCase() !== 'EXTERNAL_STAGE') throw new SfError('001003', 'SQL compilation error:\nTYPE = EXTERNAL_STAGE expected')
      if ((optionText(opts.get('STORAGE_PROVIDER')) ?? '').toUpperCase() !== 'S3') throw new SfError('001003', "SQL compilation error:\nSTORAGE_PROVIDER = 'S3' expected")
      const allowed = opts.get('STORAGE_ALLOWED_LOCATIONS')
      if (!allowed) throw new SfError('001003', 'SQL compilation error:\nmissing STORAGE_ALLOWED_LOCATIONS')
      this.integrations.set(name, { name, allowed: literalList(allowed), roleArn: optionText(opts.get('STORAGE_AWS_ROLE_ARN')), externalId: `CAREPLUS_SFCRole=2_${randomBytes(10).toString('base64url')}=` })
      return statusResult(`Integration ${name.toUpperCase()} successfully created.`, TYPE_ID.ddl)
    }
    if ((m = /^CREATE\s+(?:OR\s+REPLACE\s+)?USER\s+(?:IF\s+NOT\s+EXISTS\s+)?("?[\w$.@-]+"?)\s*([\s\S]*)$/i.exec(sql))) {
      const name = m[1]!.replaceAll('"', '').toUpperCase()
      const user = this.users.get(name) ?? { roles: new Set<string>(), props: new Map<string, string>() }
      for (const [k, v] of parseOptions(m[2]!)) user.props.set(k, optionText(v)!)
      if (user.props.has('RSA_PUBLIC_KEY')) user.rsaPublicKey = user.props.get('RSA_PUBLIC_KEY')!.replace(/\s+/g, '')
      if (user.props.has('PASSWORD')) user.password = user.props.get('PASSWORD')
      this.users.set(name, user)
      return statusResult(`User ${name} successfully created.`, TYPE_ID.ddl)
    }
    if ((m = /^ALTER\s+USER\s+(?:IF\s+EXISTS\s+)?("?[\w$.@-]+"?)\s+SET\s+([\s\S]*)$/i.exec(sql))) {
      const user = this.users.get(m[1]!.replaceAll('"', '').toUpperCase())
      if (!user) throw new SfError('002003', `SQL compilation error:\nUser '${m[1]!.toUpperCase()}' does not exist or not authorized.`, '02000')
      for (const [k, v] of parseOptions(m[2]!)) {
        if (k === 'NETWORK_POLICY' && !this.networkPolicies.has(optionText(v)!.toLowerCase())) {
          throw new SfError('002003', `SQL compilation error:\nNetwork policy '${optionText(v)!.toUpperCase()}' does not exist or not authorized.`, '02000')
        }
        user.props.set(k, optionText(v)!)
      }
      if (user.props.has('RSA_PUBLIC_KEY')) user.rsaPublicKey = user.props.get('RSA_PUBLIC_KEY')!.replace(/\s+/g, '')
      return statusResult(STATUS_OK, TYPE_ID.ddl)
    }
    if ((m = /^GRANT\s+ROLE\s+([\w$]+)\s+TO\s+USER\s+("?[\w$.@-]+"?)$/i.exec(sql))) {
      const user = this.users.get(m[2]!.replaceAll('"', '').toUpperCase())
      if (!user) throw new SfError('002003', `SQL compilation error:\nUser '${m[2]!.toUpperCase()}' does not exist or not authorized.`, '02000')
      user.roles.add(m[1]!.toUpperCase())
      return statusResult(STATUS_OK, TYPE_ID.ddl)
    }
    if (/^(CREATE\s+(OR\s+REPLACE\s+)?(WAREHOUSE|ROLE)\b|GRANT\b|REVOKE\b|ALTER\s+WAREHOUSE\b)/i.test(sql)) {
      this.accepted.push(sql)
      return statusResult(STATUS_OK, TYPE_ID.ddl)
    }
    return this.duck(session, sql, [])
  }

  /**
   * The account-level privileges Snowflake's system roles hold by default:
   * creating an integration takes ACCOUNTADMIN, a network policy
   * SECURITYADMIN, users and roles USERADMIN, warehouses and databases
   * SYSADMIN (each role has what the roles below it have). Enforced, so a
   * setup that asks a lesser role for more fails as it would in Snowflake.
   */
  private checkAccountPrivilege(session: Session, sql: string): void {
    const needs: Array<[RegExp, string]> = [
      [/^CREATE\s+(OR\s+REPLACE\s+)?(STORAGE\s+)?INTEGRATION\b/i, 'ACCOUNTADMIN'],
      [/^CREATE\s+(OR\s+REPLACE\s+)?NETWORK\s+POLICY\b/i, 'SECURITYADMIN'],
      [/^ALTER\s+USER\b.*\bNETWORK_POLICY\b/is, 'SECURITYADMIN'],
      [/^CREATE\s+(OR\s+REPLACE\s+)?(USER|ROLE)\b/i, 'USERADMIN'],
      [/^CREATE\s+(OR\s+REPLACE\s+)?(WAREHOUSE|DATABASE)\b/i, 'SYSADMIN'],
    ]
    const need = needs.find(([re]) => re.test(sql))?.[1]
    if (!need) return
    const inherits: Record<string, string[]> = {
      ACCOUNTADMIN: ['ACCOUNTADMIN', 'SECURITYADMIN', 'USERADMIN', 'SYSADMIN'],
      SECURITYADMIN: ['SECURITYADMIN', 'USERADMIN'],
      USERADMIN: ['USERADMIN'],
      SYSADMIN: ['SYSADMIN'],
    }
    const role = (session.role ?? '').replaceAll('"', '').toUpperCase()
    if (!(inherits[role] ?? []).includes(need)) {
      throw new SfError('003001', `SQL access control error:\nInsufficient privileges to operate on account '${this.opts.account.toUpperCase()}'`, '42501')
    }
  }

  /** CREATE [OR REPLACE] [TRANSIENT] TABLE … [COPY GRANTS] AS: grants copied from the table replaced, else the schema's future grants. */
  private async createTableAs(
    session: Session,
    t: { replace: boolean; transient: boolean; ifNotExists: boolean; name: string; copyGrants: boolean; query: string },
  ): Promise<Result> {
    const name = objectName(t.name, session)
    const previous = this.tableGrants.get(name)
    const r = await this.duck(session, `CREATE ${t.replace ? 'OR REPLACE ' : ''}TABLE ${t.ifNotExists ? 'IF NOT EXISTS ' : ''}${t.name} AS ${t.query}`, [])
    const future = this.futureGrants.get(name.split('.')[0]!)
    this.tableGrants.set(name, new Set(t.copyGrants && previous ? previous : (future ?? [])))
    if (t.transient) this.transientTables.add(name)
    else this.transientTables.delete(name)
    void r
    return statusResult(`Table ${name.split('.').at(-1)!.toUpperCase()} successfully created.`, TYPE_ID.ddl)
  }

  private grantOn(session: Session, privileges: string, on: string, objectText: string, role: string): Result {
    const privs = privileges.split(',').map((p) => `${p.trim().toUpperCase()} TO ROLE ${role.toUpperCase()}`)
    const add = (map: Map<string, Set<string>>, key: string): void => {
      let set = map.get(key)
      if (!set) map.set(key, (set = new Set()))
      for (const p of privs) set.add(p)
    }
    if (on === 'TABLE') add(this.tableGrants, objectName(objectText, session))
    else {
      const schema = objectText.replaceAll('"', '').toLowerCase().split('.').at(-1)!
      if (on === 'FUTURE TABLES IN SCHEMA') add(this.futureGrants, schema)
      else if (on === 'ALL TABLES IN SCHEMA') for (const key of this.tableGrants.keys()) if (key.startsWith(`${schema}.`)) add(this.tableGrants, key)
      else add(this.schemaGrants, schema)
    }
    return statusResult(STATUS_OK, TYPE_ID.ddl)
  }

  /**
   * ALTER SCHEMA a SWAP WITH b: the two schemas trade names in one atomic
   * step, their objects and every grant on them (schema, future and table
   * grants) going with them. DuckDB cannot rename schemas, so the tables
   * are moved by copying, inside one DuckDB transaction.
   */
  private async swapSchemas(session: Session, aText: string, bText: string): Promise<Result> {
    const a = aText.replaceAll('"', '').toLowerCase().split('.').at(-1)!
    const b = bText.replaceAll('"', '').toLowerCase().split('.').at(-1)!
    const conn = session.conn
    const db = (session.params.get('__database') ?? '').toUpperCase()
    const schemas = (await conn.runAndReadAll('SELECT schema_name FROM information_schema.schemata WHERE catalog_name = current_database()')).getRowObjectsJS().map((r) => String(r.schema_name))
    for (const x of [a, b]) if (!schemas.includes(x)) throw new SfError('002003', `SQL compilation error:\nSchema '${db}.${x.toUpperCase()}' does not exist or not authorized.`, '02000')
    const views = await conn.runAndReadAll('SELECT schema_name FROM duckdb_views() WHERE database_name = current_database() AND NOT internal AND schema_name IN (?, ?)', [a, b])
    if (views.getRows().length > 0) throw new SfError('002023', 'SQL compilation error:\nSWAP WITH of schemas holding views is not supported by the test endpoint')
    const tablesOf = async (schema: string): Promise<string[]> =>
      (await conn.runAndReadAll('SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = ? AND table_type = \'BASE TABLE\'', [schema])).getRowObjectsJS().map((r) => String(r.table_name))
    const move = async (from: string, to: string): Promise<void> => {
      for (const t of await tablesOf(from)) {
        await conn.run(`CREATE TABLE "${to}"."${t}" AS SELECT * FROM "${from}"."${t}"`)
        await conn.run(`DROP TABLE "${from}"."${t}"`)
      }
    }
    const tmp = `sf_swap_${randomBytes(4).toString('hex')}`
    await conn.run('BEGIN TRANSACTION')
    try {
      await conn.run(`CREATE SCHEMA "${tmp}"`)
      await move(a, tmp)
      await move(b, a)
      await move(tmp, b)
      await conn.run(`DROP SCHEMA "${tmp}"`)
      await conn.run('COMMIT')
    } catch (err) {
      await conn.run('ROLLBACK').catch(() => {})
      throw err
    }
    const swapKeys = <T>(map: Map<string, T>, byPrefix: boolean): void => {
      const moved = new Map<string, T>()
      for (const [k, v] of map) {
        const schema = byPrefix ? k.split('.')[0]! : k
        if (schema !== a && schema !== b) continue
        const other = schema === a ? b : a
        moved.set(byPrefix ? `${other}.${k.slice(schema.length + 1)}` : other, v)
        map.delete(k)
      }
      for (const [k, v] of moved) map.set(k, v)
    }
    swapKeys(this.tableGrants, true)
    swapKeys(this.futureGrants, false)
    swapKeys(this.schemaGrants, false)
    const transient = [...this.transientTables].filter((k) => k.startsWith(`${a}.`) || k.startsWith(`${b}.`))
    for (const k of transient) this.transientTables.delete(k)
    for (const k of transient) this.transientTables.add(`${k.startsWith(`${a}.`) ? b : a}.${k.slice(k.indexOf('.') + 1)}`)
    this.swaps.push(`${a}<->${b}`)
    return statusResult('Statement executed successfully.', TYPE_ID.ddl)
  }

  /** A SQL UDF as a DuckDB macro: the body translated, the result cast to the declared type. */
  private async createFunction(session: Session, m: RegExpExecArray): Promise<Result> {
    const [, replace, ifNotExists, name, paramText, returns, bodyText] = m as unknown as string[]
    const params = splitTop(paramText!).filter((p) => p !== '').map((p) => p.split(/\s+/)[0]!)
    const rawBody = bodyText!.trim()
    const body = rawBody.startsWith('$$') ? rawBody.slice(2, rawBody.lastIndexOf('$$')) : readLiteral(rawBody, 0)[0]
    const type = returns!.toUpperCase().replace(/^TIMESTAMP_NTZ$/, 'TIMESTAMP').replace(/^NUMBER$/, 'DECIMAL(38, 0)').replace(/^(STRING|TEXT)$/, 'VARCHAR')
    const create = `CREATE ${replace ? 'OR REPLACE ' : ''}MACRO ${ifNotExists ? 'IF NOT EXISTS ' : ''}${name}(${params.join(', ')}) AS CAST((${translate(body)}) AS ${type})`
    await session.conn.run(create)
    return statusResult(`Function ${name!.split('.').at(-1)!.toUpperCase()} successfully created.`, TYPE_ID.ddl)
  }

  private createStage(session: Session, m: RegExpExecArray): Result {
    const name = objectName(m[3]!, session)
    if (this.stages.has(name) && m[2] && !m[1]) return statusResult(`${name.toUpperCase()} already exists, statement succeeded.`, TYPE_ID.ddl)
    const opts = parseOptions(m[4]!)
    const url = optionText(opts.get('URL'))
    if (!url || !/^s3:\/\/[^/]+\//.test(url)) throw new SfError('001003', "SQL compilation error:\nan external stage on S3 needs URL = 's3://bucket/path/'")
    const integrationName = opts.get('STORAGE_INTEGRATION')?.toLowerCase()
    if (integrationName) {
      const integration = this.integrations.get(integrationName)
      if (!integration) throw new SfError('002003', `SQL compilation error:\nIntegration '${integrationName.toUpperCase()}' does not exist or not authorized.`, '02000')
      this.checkAllowed(integration, url)
    }
    let fileFormat: Record<string, string> | undefined
    const ff = opts.get('FILE_FORMAT')
    if (ff) {
      const inner = ff.startsWith('(') ? ff.slice(1, -1) : `FORMAT_NAME = ${ff}`
      const fopts = parseOptions(inner)
      const named = fopts.get('FORMAT_NAME')
      if (named) {
        const f = this.fileFormats.get(objectName(optionText(named)!, session))
        if (!f) throw new SfError('002003', `SQL compilation error:\nFile format '${optionText(named)!.toUpperCase()}' does not exist or not authorized.`, '02000')
        fileFormat = Object.fromEntries(f)
      } else fileFormat = Object.fromEntries(fopts)
    }
    this.stages.set(name, { name, url: url.endsWith('/') ? url : `${url}/`, integration: integrationName, fileFormat })
    return statusResult(`Stage area ${name.split('.').at(-1)!.toUpperCase()} successfully created.`, TYPE_ID.ddl)
  }

  private checkAllowed(integration: Integration, url: string): void {
    if (!integration.allowed.some((a) => url.startsWith(a.endsWith('/') ? a : `${a}/`) || url === a)) {
      throw new SfError(
        '003116',
        `SQL execution error: Location '${url}' is not allowed by integration '${integration.name.toUpperCase()}'. Please use DESC INTEGRATION to check out allowed and blocked locations.`,
        '22023',
      )
    }
  }

  private describeIntegration(sql: string): Result {
    const m = /^DESC(?:RIBE)?\s+(?:STORAGE\s+)?INTEGRATION\s+([\w$]+)$/i.exec(sql)
    const integration = m ? this.integrations.get(m[1]!.toLowerCase()) : undefined
    if (!integration) throw new SfError('002003', `SQL compilation error:\nIntegration '${(m?.[1] ?? '').toUpperCase()}' does not exist or not authorized.`, '02000')
    const props: Array<[string, string, string]> = [
      ['ENABLED', 'Boolean', 'true'],
      ['STORAGE_PROVIDER', 'String', 'S3'],
      ['STORAGE_ALLOWED_LOCATIONS', 'List', integration.allowed.join(',')],
      ['STORAGE_AWS_IAM_USER_ARN', 'String', 'arn:aws:iam::000000000000:user/test-endpoint'],
      ['STORAGE_AWS_ROLE_ARN', 'String', integration.roleArn ?? ''],
      ['STORAGE_AWS_EXTERNAL_ID', 'String', integration.externalId],
    ]
    return {
      cols: ['property', 'property_type', 'property_value', 'property_default'].map((name) => ({ name, type: 'text' as const })),
      rows: props.map(([p, t, v]) => [p, t, v, '']),
      statementTypeId: TYPE_ID.other,
    }
  }

  /** `@stage/path` (or quoted) → the stage and the S3 bucket/prefix it points at. */
  private resolveLocation(session: Session, location: string): { stage: Stage; bucket: string; prefix: string; relative: string } {
    const loc = location.startsWith("'") ? readLiteral(location, 0)[0] : location
    if (!loc.startsWith('@')) throw new SfError('001003', `SQL compilation error:\nexpected a stage location, got ${loc}`)
    const slash = loc.indexOf('/')
    const stageName = objectName(slash < 0 ? loc.slice(1) : loc.slice(1, slash), session)
    const relative = slash < 0 ? '' : loc.slice(slash + 1)
    const stage = this.stages.get(stageName)
    if (!stage) throw new SfError('002003', `SQL compilation error:\nStage '${stageName.toUpperCase()}' does not exist or not authorized.`, '02000')
    if (stage.integration) this.checkAllowed(this.integrations.get(stage.integration)!, stage.url)
    const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(stage.url)!
    return { stage, bucket: m[1]!, prefix: m[2]! + relative, relative }
  }

  private async listKeys(bucket: string, prefix: string): Promise<Array<{ key: string; size: number; etag: string; modified: Date }>> {
    const out: Array<{ key: string; size: number; etag: string; modified: Date }> = []
    let token: string | undefined
    try {
      do {
        const page = await this.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))
        for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0, etag: (o.ETag ?? '').replaceAll('"', ''), modified: o.LastModified ?? new Date(0) })
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token)
    } catch (err) {
      throw new SfError('091003', `Failure using stage area. Cause: [${(err as Error).message}]`, '22000')
    }
    return out
  }

  private async list(session: Session, sql: string): Promise<Result> {
    const m = /^(?:LIST|LS)\s+(@[^\s]+|'(?:[^'\\]|''|\\.)*')\s*(?:PATTERN\s*=\s*('(?:[^'\\]|''|\\.)*'))?$/i.exec(sql)
    if (!m) throw new SfError('001003', 'SQL compilation error:\nsyntax error in LIST')
    const { bucket, prefix } = this.resolveLocation(session, m[1]!)
    const pattern = m[2] ? new RegExp(`^(?:${readLiteral(m[2], 0)[0]})$`) : undefined
    const objects = (await this.listKeys(bucket, prefix)).filter((o) => !pattern || pattern.test(`s3://${bucket}/${o.key}`))
    return {
      cols: [
        { name: 'name', type: 'text' },
        { name: 'size', type: 'fixed' },
        { name: 'md5', type: 'text' },
        { name: 'last_modified', type: 'text' },
      ],
      rows: objects.map((o) => [`s3://${bucket}/${o.key}`, String(o.size), o.etag, o.modified.toUTCString()]),
      statementTypeId: TYPE_ID.other,
    }
  }

  // --- COPY INTO <table> ---

  private async copyInto(session: Session, sql: string): Promise<Result> {
    const head = /^COPY\s+INTO\s+([\w$."]+)\s*/i.exec(sql)!
    const table = objectName(head[1]!, session)
    let rest = sql.slice(head[0].length)
    let columns: string[] | undefined
    if (rest.startsWith('(')) {
      const end = matchParen(rest, 0)
      columns = splitTop(rest.slice(1, end)).map((c) => c.replaceAll('"', '').toLowerCase())
      rest = rest.slice(end + 1).trimStart()
    }
    const from = /^FROM\s+/i.exec(rest)
    if (!from) throw new SfError('001003', 'SQL compilation error:\nsyntax error: FROM expected')
    rest = rest.slice(from[0].length)
    let select: string[] | undefined
    let location: string
    if (rest.startsWith('(')) {
      const end = matchParen(rest, 0)
      const inner = rest.slice(1, end).trim()
      const sm = /^SELECT\s+([\s\S]+?)\s+FROM\s+(@[^\s)]+|'(?:[^'\\]|''|\\.)*')(?:\s+(?:AS\s+)?\w+)?$/i.exec(inner)
      if (!sm) throw new SfError('001003', 'SQL compilation error:\nsyntax error in the COPY transformation')
      select = splitTop(sm[1]!)
      location = sm[2]!
      rest = rest.slice(end + 1)
    } else {
      const lm = /^(@[^\s]+|'(?:[^'\\]|''|\\.)*')/.exec(rest)
      if (!lm) throw new SfError('001003', 'SQL compilation error:\nsyntax error: stage location expected')
      location = lm[1]!
      rest = rest.slice(lm[0].length)
    }
    const opts = parseOptions(rest)
    for (const k of opts.keys()) {
      if (!['FILES', 'PATTERN', 'FILE_FORMAT', 'ON_ERROR', 'FORCE'].includes(k)) throw new SfError('002023', `SQL compilation error:\nCOPY option ${k} is not supported by the test endpoint`)
    }
    const { stage, bucket, prefix } = this.resolveLocation(session, location)
    const formatOpts = new Map(Object.entries(stage.fileFormat ?? {}))
    const inline = opts.get('FILE_FORMAT')
    if (inline) {
      const fopts = parseOptions(inline.slice(1, -1))
      const named = fopts.get('FORMAT_NAME')
      if (named) {
        const f = this.fileFormats.get(objectName(optionText(named)!, session))
        if (!f) throw new SfError('002003', `SQL compilation error:\nFile format '${optionText(named)!.toUpperCase()}' does not exist or not authorized.`, '02000')
        for (const [k, v] of f) formatOpts.set(k, v)
      } else for (const [k, v] of fopts) formatOpts.set(k, v)
    }
    const format = csvFormat(formatOpts)
    const onError = (optionText(opts.get('ON_ERROR')) ?? 'ABORT_STATEMENT').toUpperCase()
    if (!['ABORT_STATEMENT', 'SKIP_FILE', 'CONTINUE'].includes(onError)) throw new SfError('002023', `SQL compilation error:\nON_ERROR = ${onError} is not supported by the test endpoint`)
    const force = (optionText(opts.get('FORCE')) ?? 'FALSE').toUpperCase() === 'TRUE'

    // The files: FILES names relative to the location, else everything under it (PATTERN filters).
    const listed = await this.listKeys(bucket, prefix)
    let files: Array<{ key: string; etag: string }>
    if (opts.has('FILES')) {
      const names = literalList(opts.get('FILES')!)
      if (names.length > 1000) throw new SfError('001012', 'SQL compilation error:\nthe FILES list names more than 1000 files', '42601')
      files = names.map((n) => {
        const found = listed.find((o) => o.key === prefix + n)
        if (!found) throw new SfError('100038', `Remote file 's3://${bucket}/${prefix}${n}' was not found. There are several potential causes. The file might not exist.`, '22000')
        return { key: found.key, etag: found.etag }
      })
    } else {
      const pattern = opts.has('PATTERN') ? new RegExp(`^(?:${optionText(opts.get('PATTERN'))})$`) : undefined
      files = listed.filter((o) => !pattern || pattern.test(o.key)).map((o) => ({ key: o.key, etag: o.etag }))
    }

    const target = await session.conn.runAndReadAll(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ? ORDER BY ordinal_position`,
      [table.split('.')[0]!, table.split('.')[1]!],
    )
    const tableCols = target.getRowObjectsJS().map((r) => ({ name: String(r.column_name), type: String(r.data_type), nullable: r.is_nullable === 'YES' }))
    if (tableCols.length === 0) throw new SfError('002003', `SQL compilation error:\nTable '${table.toUpperCase()}' does not exist or not authorized.`, '42S02')
    const intoCols = (columns ?? tableCols.map((c) => c.name)).map((c) => {
      const col = tableCols.find((t) => t.name === c)
      if (!col) throw new SfError('000904', `SQL compilation error: error line 1 at position 0\ninvalid identifier '${c.toUpperCase()}'`)
      return col
    })
    const exprs = select ?? intoCols.map((_, i) => `$${i + 1}`)
    if (exprs.length !== intoCols.length) throw new SfError('002020', 'SQL compilation error:\nInsert value list does not match column list', '21S01')

    const loadedBefore = this.loadMetadata.get(table) ?? new Map<string, string>()
    const rows: Array<Array<string | null>> = []
    for (const file of files) {
      const url = `s3://${bucket}/${file.key}`
      if (!force && (loadedBefore.get(url) === file.etag || session.pendingLoads.some((l) => l.table === table && l.file === url))) {
        // Snowflake leaves a file its load metadata skips out of the result; fakesnow answers a LOAD_SKIPPED row.
        if (this.opts.skippedFiles === 'row') rows.push([url, 'LOAD_SKIPPED', '0', '0', null, '1', 'File was loaded before.', null, null, null])
        continue
      }
      const outcome = await this.copyFile(session, { bucket, key: file.key, url }, format, table, intoCols, exprs, select !== undefined)
      if (outcome.firstError && onError === 'ABORT_STATEMENT') {
        const e = outcome.firstError
        throw new SfError(
          e.code,
          `${e.message}\n  File '${file.key.slice(stage.url.length - `s3://${bucket}/`.length)}', line ${e.line}, character ${e.character}\n  Row ${e.row}, column ${e.column}\n  If you would like to continue loading when an error is encountered, use other values such as 'SKIP_FILE' or 'CONTINUE' for the ON_ERROR option. For more information on loading options, please run 'info loading_data' in a SQL client.`,
          '22018',
        )
      }
      let loaded = 0
      if (!outcome.firstError || onError === 'CONTINUE') loaded = await this.insertFile(session, table, intoCols, exprs, outcome.badLines, format)
      const status = !outcome.firstError ? 'LOADED' : loaded > 0 ? 'PARTIALLY_LOADED' : 'LOAD_FAILED'
      if (status !== 'LOAD_FAILED') {
        if (session.inTx) session.pendingLoads.push({ table, file: url, etag: file.etag })
        else this.remember(table, url, file.etag)
      }
      const e = outcome.firstError
      rows.push([
        url,
        status,
        String(outcome.parsed),
        String(loaded),
        onError === 'CONTINUE' ? String(outcome.parsed) : '1',
        String(outcome.errors),
        e?.message ?? null,
        e ? String(e.line) : null,
        e ? String(e.character) : null,
        e?.column ?? null,
      ])
      await session.conn.run('DROP TABLE IF EXISTS temp.main.sf_copy_rows')
    }
    if (rows.length === 0) return statusResult('Copy executed with 0 files processed.', TYPE_ID.dml)
    return {
      cols: [
        { name: 'file', type: 'text' },
        { name: 'status', type: 'text' },
        { name: 'rows_parsed', type: 'fixed' },
        { name: 'rows_loaded', type: 'fixed' },
        { name: 'error_limit', type: 'fixed' },
        { name: 'errors_seen', type: 'fixed' },
        { name: 'first_error', type: 'text' },
        { name: 'first_error_line', type: 'fixed' },
        { name: 'first_error_character', type: 'fixed' },
        { name: 'first_error_column_name', type: 'text' },
      ],
      rows,
      statementTypeId: TYPE_ID.dml,
    }
  }

  /**
   * Reads one staged file into a temporary table of text fields (with each
   * record's line), then finds the first value the target columns cannot
   * take, as Snowflake reports it.
   */
  private async copyFile(
    session: Session,
    file: { bucket: string; key: string; url: string },
    format: CsvFormat,
    table: string,
    intoCols: Array<{ name: string; type: string; nullable: boolean }>,
    exprs: string[],
    transformed: boolean,
  ): Promise<{ parsed: number; errors: number; badLines: number[]; firstError?: { code: string; message: string; line: number; character: number; row: number; column: string } }> {
    let bytes: Buffer
    try {
      const obj = await this.s3.send(new GetObjectCommand({ Bucket: file.bucket, Key: file.key }))
      bytes = Buffer.from(await obj.Body!.transformToByteArray())
    } catch (err) {
      throw new SfError('091003', `Failure using stage area. Cause: [${(err as Error).message}]`, '22000')
    }
    const gz = format.compression === 'gzip' || (format.compression === 'auto' && bytes[0] === 0x1f && bytes[1] === 0x8b)
    const text = (gz ? gunzipSync(bytes) : bytes).toString('utf8')
    let records: CsvRecord[]
    try {
      records = parseCsv(text, format)
    } catch (err) {
      if (!(err instanceof SfError)) throw err
      return { parsed: 0, errors: 1, badLines: [], firstError: { code: err.code, message: err.message, line: 1, character: 1, row: 1, column: `"${table.split('.')[1]!.toUpperCase()}"[$1:1]` } }
    }
    const width = Math.max(1, ...records.map((r) => r.fields.length), ...exprs.map((e) => Number(/^\$(\d+)$/.exec(e.trim())?.[1] ?? 0)))
    if (!transformed) {
      const bad = records.find((r) => r.fields.length !== intoCols.length)
      if (bad) {
        return {
          parsed: records.length,
          errors: 1,
          badLines: [],
          firstError: {
            code: '100080',
            message: `Number of columns in file (${bad.fields.length}) does not match that of the corresponding table (${intoCols.length}), use file format option error_on_column_count_mismatch=false to ignore this error`,
            line: bad.line,
            character: 1,
            row: records.indexOf(bad) + 1,
            column: `"${table.split('.')[1]!.toUpperCase()}"[$1:1]`,
          },
        }
      }
    }
    await session.conn.run('DROP TABLE IF EXISTS temp.main.sf_copy_rows')
    await session.conn.run(
      `CREATE TEMP TABLE sf_copy_rows (sf_row BIGINT, sf_line BIGINT, ${Array.from({ length: width }, (_, i) => `c${i + 1} VARCHAR`).join(', ')}, ${Array.from({ length: width }, (_, i) => `p${i + 1} INTEGER`).join(', ')})`,
    )
    const appender = await session.conn.createAppender('sf_copy_rows', 'main', 'temp')
    records.forEach((r, k) => {
      appender.appendBigInt(BigInt(k + 1))
      appender.appendBigInt(BigInt(r.line))
      for (let i = 0; i < width; i++) {
        const v = r.fields[i]
        if (v === null || v === undefined) appender.appendNull()
        else appender.appendVarchar(v)
      }
      for (let i = 0; i < width; i++) appender.appendInteger(r.chars[i] ?? 1)
      appender.endRow()
    })
    appender.flushSync()
    appender.closeSync()

    // Each target column fed by a file column: values its type cannot take, and NULLs a NOT NULL column cannot.
    const problems: Array<{ code: string; message: string; line: number; character: number; row: number; column: string }> = []
    const badLines = new Set<number>()
    for (const [i, col] of intoCols.entries()) {
      const n = /^\$(\d+)$/.exec(exprs[i]!.trim())?.[1]
      if (!n) continue
      const c = `c${n}`
      const parse = this.copyParse(session, format, c, col.type, false) ?? `TRY_CAST(${c} AS ${col.type})`
      const where = [`(${c} IS NOT NULL AND ${parse} IS NULL)`]
      if (!col.nullable) where.push(`${c} IS NULL`)
      const r = await session.conn.runAndReadAll(`SELECT sf_row, sf_line, p${n} AS pos, ${c} AS v FROM temp.main.sf_copy_rows WHERE ${where.join(' OR ')} ORDER BY sf_row`)
      const bad = r.getRowObjectsJS()
      for (const b of bad) badLines.add(Number(b.sf_row))
      const first = bad[0]
      if (!first) continue
      const value = first.v as string | null
      const kind = /INT|DOUBLE|FLOAT|DECIMAL|NUMERIC|REAL/i.test(col.type) ? 'Numeric value' : /TIMESTAMP/i.test(col.type) ? 'Timestamp' : /DATE/i.test(col.type) ? 'Date' : /BOOL/i.test(col.type) ? 'Boolean value' : 'Value'
      problems.push({
        code: value === null ? '100072' : '100038',
        message: value === null ? 'NULL result in a non-nullable column' : `${kind} '${value}' is not recognized`,
        line: Number(first.sf_line),
        character: Number(first.pos),
        row: Number(first.sf_row),
        column: `"${table.split('.')[1]!.toUpperCase()}"["${col.name.toUpperCase()}":${i + 1}]`,
      })
    }
    problems.sort((a, b) => a.row - b.row || a.character - b.character)
    return { parsed: records.length, errors: badLines.size, badLines: [...badLines], firstError: problems[0] }
  }

  /** How COPY reads a text field into a TIMESTAMP or DATE column: the file format's format, else the session's (snowflakeFormats.ts). */
  private copyParse(session: Session, format: CsvFormat, field: string, type: string, strict: boolean): string | undefined {
    const fileFormat = /^TIMESTAMP/i.test(type) ? format.timestampFormat : format.dateFormat
    try {
      return copyParse(field, type, fileFormat, (n) => this.param(session, n) ?? '', strict)
    } catch (err) {
      if (err instanceof UnsupportedFormat) throw new SfError('002023', `SQL compilation error:\n${err.message}`)
      throw err
    }
  }

  private async insertFile(session: Session, table: string, intoCols: Array<{ name: string; type: string }>, exprs: string[], badRows: number[], format: CsvFormat): Promise<number> {
    const select = exprs.map((e, i) => {
      const n = /^\$(\d+)$/.exec(e.trim())?.[1]
      const type = intoCols[i]!.type
      return n ? (this.copyParse(session, format, `c${n}`, type, true) ?? `CAST(c${n} AS ${type})`) : translate(rewriteCasts(e))
    })
    const skip = badRows.length > 0 ? ` WHERE sf_row NOT IN (${badRows.join(', ')})` : ''
    const r = await session.conn.run(
      `INSERT INTO ${table} (${intoCols.map((c) => `"${c.name}"`).join(', ')}) SELECT ${select.join(', ')} FROM temp.main.sf_copy_rows${skip} ORDER BY sf_row`,
    )
    return r.rowsChanged
  }
}

export function startSnowflakeEndpoint(opts: SnowflakeEndpointOptions): Promise<SnowflakeEndpoint> {
  return SnowflakeEndpoint.start(opts)
}
