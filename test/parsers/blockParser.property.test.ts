import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import t from 'tap'
import { REJECT_CODES, type BlockParserOptions } from '../../parsers/blockParser.js'
import type { LogRecord } from '../../parsers/logRecord.js'
import { parseChunks as parseWith, type Parsed } from '../support/parse.js'

const parseChunks = (chunks: Iterable<Uint8Array>, opts: Partial<BlockParserOptions> = {}): Parsed => parseWith(chunks, { sourceFile: 'prop.log', ...opts })

/** Split `input` at the given (arbitrary) positions. */
function cut(input: Buffer, positions: number[]): Buffer[] {
  const at = [...new Set(positions.map((p) => p % (input.length + 1)))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let from = 0
  for (const p of at) {
    chunks.push(input.subarray(from, p))
    from = p
  }
  chunks.push(input.subarray(from))
  return chunks
}

const invariantsHold = (p: Parsed): boolean =>
  p.stats.blocks === p.stats.rows + p.stats.rejects &&
  p.stats.rows === p.rows.length &&
  p.stats.rejects === p.rejects.length &&
  p.rejects.every((r) => (REJECT_CODES as readonly string[]).includes(r.reason.slice(0, r.reason.indexOf(':'))))

// --- generators -------------------------------------------------------------

const noBreaks = (s: string): string => s.replace(/[\r\n]/g, '_')
/** Any Unicode, plus the characters the format uses, as a single-line string. */
const text = (maxLength: number, minLength = 0): fc.Arbitrary<string> =>
  fc
    .oneof(
      fc.string({ unit: 'binary', minLength, maxLength }),
      fc.string({ unit: fc.constantFrom('"', '|', '=', ' ', '-', 'a', 'Z', '0', 'é', '🙂', 'ℹ️', '\t', '[', ']', '\\'), minLength, maxLength }),
    )
    .map(noBreaks)

/** A value that ends where the parser will cut it: `sep` first occurs right after it. */
const endsBefore = (value: string, sep: string): boolean => (value + sep).indexOf(sep) === value.length

const timestamp = fc
  .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => {
    const iso = d.toISOString()
    return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`
  })

const level = fc.oneof(
  fc.constantFrom('INFO', 'INF0', 'DEBUG', 'DEBG', 'WARNING', 'warnING', 'ERROR', 'EROR'),
  text(12, 1).filter((s) => !s.includes(']')),
)
const service = text(30, 1).filter((s) => endsBefore(s, ' - '))
const id = text(16, 1).map((s) => s.replaceAll(' ', '_'))
const metricValue = text(20).filter((s) => endsBefore(s, ' | '))
const cpu = fc
  .tuple(fc.boolean(), fc.stringMatching(/^[0-9]{1,18}$/), fc.option(fc.stringMatching(/^[0-9]{1,8}$/), { nil: undefined }))
  .map(([neg, int, frac]) => `${neg ? '-' : ''}${int}${frac === undefined ? '' : '.' + frac}`)
const unquoted = text(20).filter((s) => !s.startsWith('"'))

interface Fields {
  ts: string
  level: string
  service: string
  ticket: string
  session: string
  sessionFirst: boolean
  ip: string
  rt: number
  cpu: string
  event: string
  error: string
  /** Order of IP, ResponseTime, CPU, EventType, Error on line 2. */
  metricOrder: number[]
  ua: string
  message: string
  debug: string
  trace: { quoted: boolean; value: string }
  /** Order of UserAgent, Message, Debug, TraceID on lines 3–6. */
  detailOrder: number[]
  /** A blank line (or none) inserted before each of lines 2–6. */
  blanksInside: (string | null)[]
  eol: '\n' | '\r\n'
  /** `null`: no separator (the next header, or the end, closes the block). */
  separator: string | null
  blanksAfter: string[]
}

const blank = fc.constantFrom('', ' ', '\t', '  \t ')
const fields: fc.Arbitrary<Fields> = fc.record({
  ts: timestamp,
  level,
  service,
  ticket: id,
  session: id,
  sessionFirst: fc.boolean(),
  ip: metricValue,
  rt: fc.integer({ min: -2147483648, max: 2147483647 }),
  cpu,
  event: metricValue,
  error: fc.oneof(fc.constantFrom('true', 'false'), metricValue),
  metricOrder: fc.shuffledSubarray([0, 1, 2, 3, 4], { minLength: 5, maxLength: 5 }),
  ua: text(40),
  message: text(40),
  debug: text(40),
  trace: fc.oneof(fc.record({ quoted: fc.constant(true), value: text(20) }), fc.record({ quoted: fc.constant(false), value: unquoted })),
  detailOrder: fc.shuffledSubarray([0, 1, 2, 3], { minLength: 4, maxLength: 4 }),
  blanksInside: fc.array(fc.option(blank, { nil: null }), { minLength: 5, maxLength: 5 }),
  eol: fc.constantFrom('\n' as const, '\r\n' as const),
  separator: fc.option(fc.constantFrom('---', '--- ', '---\t'), { nil: null, freq: 4 }),
  blanksAfter: fc.array(blank, { maxLength: 3 }),
})

/** The block's lines, blank ones and the separator included; the header is the first. */
function formatLines(f: Fields): string[] {
  const ids = [`TicketID=${f.ticket}`, `SessionID=${f.session}`]
  if (f.sessionFirst) ids.reverse()
  const metrics = [`IP=${f.ip}`, `ResponseTime=${f.rt}ms`, `CPU=${f.cpu}%`, `EventType=${f.event}`, `Error=${f.error}`]
  const details = [
    `UserAgent="${f.ua}"`,
    `Message="${f.message}"`,
    `Debug="${f.debug}"`,
    `TraceID=${f.trace.quoted ? `"${f.trace.value}"` : f.trace.value}`,
  ]
  const six = [
    `${f.ts} [${f.level}] ${f.service} - ${ids.join(' ')}`,
    f.metricOrder.map((i) => metrics[i]).join(' | '),
    ...f.detailOrder.map((i) => details[i]!),
  ]
  const lines = [six[0]!]
  for (let k = 1; k < 6; k++) {
    const blankLine = f.blanksInside[k - 1]
    if (blankLine != null) lines.push(blankLine)
    lines.push(six[k]!)
  }
  if (f.separator !== null) lines.push(f.separator)
  lines.push(...f.blanksAfter)
  return lines
}

function expectedRecord(f: Fields, sourceLine: number): LogRecord {
  const cpuValue = Number(f.cpu)
  return {
    timestamp: f.ts,
    log_level: f.level,
    service: f.service,
    ticket_id: f.ticket,
    session_id: f.session,
    ip: f.ip,
    response_time_ms: f.rt,
    cpu_percent: cpuValue === 0 ? 0 : cpuValue,
    event_type: f.event,
    error: f.error,
    user_agent: f.ua,
    message: f.message,
    debug: f.debug,
    trace_id: f.trace.value,
    _source_file: 'prop.log',
    _source_line: sourceLine,
  }
}

interface Document {
  bytes: Buffer
  records: LogRecord[]
}

/** Format blocks into one input; records carry the header's line number. */
function formatDocument(blocks: Fields[], leadingBlanks: string[], bom: boolean, finalNewline: boolean): Document {
  const parts: string[] = []
  const records: LogRecord[] = []
  let line = 1
  for (const b of leadingBlanks) {
    parts.push(b + '\n')
    line++
  }
  blocks.forEach((f, i) => {
    const lines = formatLines(f)
    records.push(expectedRecord(f, line))
    const last = i === blocks.length - 1
    lines.forEach((l, j) => {
      const isLastLine = last && j === lines.length - 1
      parts.push(l + (isLastLine && !finalNewline ? '' : f.eol))
    })
    line += lines.length
  })
  const body = Buffer.from(parts.join(''))
  return { bytes: bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]) : body, records }
}

const document = fc
  .record({
    blocks: fc.array(fields, { minLength: 1, maxLength: 6 }),
    leadingBlanks: fc.array(blank, { maxLength: 2 }),
    bom: fc.boolean(),
    finalNewline: fc.boolean(),
  })
  .map(({ blocks, leadingBlanks, bom, finalNewline }) => formatDocument(blocks, leadingBlanks, bom, finalNewline))

const cuts = fc.array(fc.nat(), { maxLength: 24 })

// --- properties -------------------------------------------------------------

t.test('valid blocks come back with the same values, however the input is chunked', async (t) => {
  fc.assert(
    fc.property(document, cuts, (doc, positions) => {
      const p = parseChunks(cut(doc.bytes, positions))
      if (!isDeepStrictEqual(p.rows, doc.records) || p.rejects.length > 0) {
        t.same({ rows: p.rows, rejects: p.rejects }, { rows: doc.records, rejects: [] })
        return false
      }
      return invariantsHold(p) && p.stats.blocks === doc.records.length && p.stats.bytes === doc.bytes.length
    }),
    { numRuns: 300 },
  )
  t.pass('300 random documents')
})

t.test('the same document in 1-byte chunks', async (t) => {
  fc.assert(
    fc.property(document, (doc) => {
      const whole = parseChunks([doc.bytes])
      const bytewise = parseChunks(cut(doc.bytes, Array.from({ length: doc.bytes.length }, (_, i) => i)))
      return isDeepStrictEqual(whole, bytewise) && isDeepStrictEqual(whole.rows, doc.records)
    }),
    { numRuns: 50 },
  )
  t.pass('50 random documents byte by byte')
})

const garbageLine = fc.oneof(
  text(60),
  fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a).toString('latin1')),
  fc.constantFrom('---', '', '2025-07-01 00:00:00 [INFO] x - TicketID=1', 'IP=1 | CPU=%', 'Message="', '2025-13-45 99:99:99 [', '\uFEFF'),
)
/** Raw bytes: may hold invalid UTF-8 and line breaks of their own. */
const garbageBytes = fc.oneof(
  fc.array(garbageLine, { minLength: 1, maxLength: 8 }).map((lines) => Buffer.from(lines.join('\n'), 'utf8')),
  fc.uint8Array({ minLength: 1, maxLength: 200 }).map((a) => Buffer.from(a)),
)

t.test('random garbage never throws, keeps the invariants, and does not depend on chunking', async (t) => {
  fc.assert(
    fc.property(fc.array(garbageBytes, { minLength: 1, maxLength: 5 }), cuts, fc.constantFrom(256, 1024, 1 << 20), (pieces, positions, maxBlockBytes) => {
      const input = Buffer.concat(pieces)
      const opts = { maxBlockBytes, maxRejectRawBytes: 64 }
      const whole = parseChunks([input], opts)
      const chunked = parseChunks(cut(input, positions), opts)
      return (
        invariantsHold(whole) &&
        isDeepStrictEqual(chunked, whole) &&
        whole.stats.bytes === input.length &&
        whole.rejects.every((r) => Buffer.byteLength(r.raw) <= 64)
      )
    }),
    { numRuns: 400 },
  )
  t.pass('400 random garbage inputs')
})

t.test('valid blocks separated from garbage by --- still come back', async (t) => {
  const segment = fc.oneof(
    fields.map((f) => ({ kind: 'block' as const, f: { ...f, separator: '---' } })),
    garbageBytes.map((bytes) => ({ kind: 'garbage' as const, bytes })),
  )
  fc.assert(
    fc.property(fc.array(segment, { minLength: 1, maxLength: 8 }), cuts, (segments, positions) => {
      const parts: Buffer[] = []
      const records: LogRecord[] = []
      let line = 1
      for (const s of segments) {
        let bytes: Buffer
        if (s.kind === 'block') {
          records.push(expectedRecord(s.f, line))
          bytes = Buffer.from(formatLines(s.f).map((l) => l + s.f.eol).join(''))
        } else {
          bytes = Buffer.concat([s.bytes, Buffer.from('\n---\n')])
        }
        parts.push(bytes)
        for (const b of bytes) if (b === 0x0a) line++
      }
      // Garbage first may start with a BOM, which the parser then skips.
      const input = Buffer.concat(parts)
      const p = parseChunks(cut(input, positions))
      if (!invariantsHold(p)) return false
      if (!isDeepStrictEqual(p.rows, records)) {
        t.same(p.rows, records)
        return false
      }
      return true
    }),
    { numRuns: 300 },
  )
  t.pass('300 random mixes of blocks and garbage')
})
