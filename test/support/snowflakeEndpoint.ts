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
import type { Socket } from 'node:net'
import { createHash, createPublicKey, randomBytes, randomUUID, verify } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { gunzipSync } from 'node:zlib'
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
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
}

export interface RecordedStatement {
  session: number
  requestId: string
  sql: string
  queryTag: string | undefined
  bindings: unknown[]
  error?: { code: string; message: string }
}

type Fault = 'drop-response' | 'lose-session' | 'stall'
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
  if ((m = /^Binder Error: Referenced column "?([^"\s]+)"? not found/.exec(msg))) {
    return new SfError('000904', `SQL compilation error: error line 1 at position 0\ninvalid identifier '${m[1]!.toUpperCase()}'`, '42000')
  }
  if ((m = /^Parser Error: (.*)/.exec(msg))) {
    return new SfError('001003', `SQL compilation error:\nsyntax error line 1 at position 0 ${m[1]}`, '42000')
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
  private readonly s3: S3Client
  private nextSession = 1
  url = ''

  private constructor(
    private readonly opts: SnowflakeEndpointOptions,
    private readonly db: DuckDBInstance,
    private readonly admin: DuckDBConnection,
  ) {
    for (const [name, u] of Object.entries(opts.users)) this.users.set(name.toUpperCase(), { ...u, roles: new Set(), props: new Map() })
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

  /** Runs SQL directly on the endpoint's DuckDB (for assertions), in `database`. */
  async query(sql: string, database = this.opts.databases?.[0] ?? 'careplus'): Promise<Record<string, unknown>[]> {
    await this.admin.run(`USE ${database}`)
    const r = await this.admin.runAndReadAll(sql)
    return r.getRowObjectsJS().map((o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])))
  }

  /** Statements whose QUERY_TAG was missing. */
  untagged(): RecordedStatement[] {
    return this.statements.filter((s) => !s.queryTag)
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const s of new Set(this.sessions.values())) await this.endSession(s)
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
      if (req.method === 'POST' && path === '/session/v1/login-request') return this.send(res, 200, await this.login(url, body))
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

  private async login(url: URL, body: Record<string, unknown>): Promise<Record<string, unknown>> {
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
    const session: Session = {
      id: this.nextSession++,
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
    session.inTx = false
    session.pendingLoads = []
    session.conn.closeSync()
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
      req.socket.destroy()
      await this.endSession(session)
      return
    }
    const params = (body.parameters ?? {}) as Record<string, unknown>
    const bindings = Object.entries((body.bindings ?? {}) as Record<string, { type: string; value: string | null }>)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([, b]) => b)
    const record: RecordedStatement = {
      session: session.id,
      requestId,
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
    entry.body = this.serialised(session, async () => {
      if (fault === 'stall') {
        await new Promise<void>((resolve) => cancel.signal.addEventListener('abort', () => resolve(), { once: true }))
        this.cancelled.push(queryId)
        throw new SfError('000604', 'SQL execution canceled', '57014')
      }
      return this.execute(session, sql, bindings)
    })
      .then(
        (r) => ({ success: true, code: null, message: null, data: responseData(queryId, r, session) }),
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

  private async execute(session: Session, rawSql: string, bindings: Array<{ type: string; value: string | null }>): Promise<Result> {
    if (!session.alive) throw new SfError('390111', 'Session no longer exists.  New login required to access the service.', '08003')
    const sql = rawSql.trim().replace(/;\s*$/, '')
    const words = sql.replace(/^(\s*--[^\n]*\n)+/, '').trim().split(/\s+/, 4).map((w) => w.toUpperCase())
    const [w0, w1] = words
    if (w0 === 'BEGIN' || (w0 === 'START' && w1 === 'TRANSACTION')) {
      if (!session.inTx) {
        await session.conn.run('BEGIN TRANSACTION')
        session.inTx = true
      }
      return statusResult(STATUS_OK, TYPE_ID.tcl)
    }
    if (w0 === 'COMMIT') {
      await this.commit(session)
      return statusResult(STATUS_OK, TYPE_ID.tcl)
    }
    if (w0 === 'ROLLBACK') {
      if (session.inTx) await session.conn.run('ROLLBACK')
      session.inTx = false
      session.pendingLoads = []
      return statusResult(STATUS_OK, TYPE_ID.tcl)
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
    session.inTx = false
    for (const l of session.pendingLoads) this.remember(l.table, l.file, l.etag)
    session.pendingLoads = []
  }

  private remember(table: string, file: string, etag: string): void {
    let m = this.loadMetadata.get(table)
    if (!m) this.loadMetadata.set(table, (m = new Map()))
    m.set(file, etag)
  }

  private async duck(session: Session, sql: string, bindings: Array<{ type: string; value: string | null }>): Promise<Result> {
    const translated = translate(sql)
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

  private alterSession(session: Session, sql: string): Result {
    const m = /^ALTER\s+SESSION\s+(SET|UNSET)\s+([\s\S]+)$/i.exec(sql)
    if (!m) throw new SfError('001003', 'SQL compilation error:\nsyntax error in ALTER SESSION')
    if (m[1]!.toUpperCase() === 'UNSET') {
      for (const name of m[2]!.split(/[\s,]+/)) session.params.delete(name.toUpperCase())
    } else {
      for (const [k, v] of parseOptions(m[2]!)) session.params.set(k, optionText(v)!)
    }
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
      for (const [k, v] of parseOptions(m[2]!)) user.props.set(k, optionText(v)!)
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
      if (!force && (loadedBefore.get(url) === file.etag || session.pendingLoads.some((l) => l.table === table && l.file === url))) continue
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
      if (!outcome.firstError || onError === 'CONTINUE') loaded = await this.insertFile(session, table, intoCols, exprs, outcome.badLines)
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
      const where = [`(${c} IS NOT NULL AND TRY_CAST(${c} AS ${col.type}) IS NULL)`]
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

  private async insertFile(session: Session, table: string, intoCols: Array<{ name: string; type: string }>, exprs: string[], badRows: number[]): Promise<number> {
    const select = exprs.map((e, i) => {
      const n = /^\$(\d+)$/.exec(e.trim())?.[1]
      return n ? `CAST(c${n} AS ${intoCols[i]!.type})` : translate(e)
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
