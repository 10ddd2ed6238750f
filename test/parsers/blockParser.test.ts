import { isDeepStrictEqual } from 'node:util'
import t, { type Test } from 'tap'
import {
  BlockParser,
  DEFAULT_MAX_BLOCK_BYTES,
  REJECT_CODES,
  type BlockParserOptions,
} from '../../parsers/blockParser.js'
import type { LogRecord, LogReject } from '../../parsers/logRecord.js'
import { fixture, parseChunks, slices, type Parsed } from '../support/parse.js'

function parse(input: string | Uint8Array, opts: Partial<BlockParserOptions> = {}): Parsed {
  return parseChunks([typeof input === 'string' ? Buffer.from(input) : input], opts)
}

const codeOf = (r: LogReject): string => r.reason.slice(0, r.reason.indexOf(':'))
/** `[code, _source_line]` of each reject. */
const rejectsOf = (p: Parsed): [string, number][] => p.rejects.map((r) => [codeOf(r), r._source_line])

/** The invariants every parse must keep. */
function checkInvariants(t: Test, p: Parsed, label = ''): void {
  t.equal(p.stats.blocks, p.stats.rows + p.stats.rejects, `${label}blocks = rows + rejects`)
  t.equal(p.stats.rows, p.rows.length, `${label}stats.rows matches the rows emitted`)
  t.equal(p.stats.rejects, p.rejects.length, `${label}stats.rejects matches the rejects emitted`)
  for (const r of p.rejects) {
    t.match(r.reason, /^[a-z0-9_]+: \S/, `${label}reason is "code: detail"`)
    t.ok((REJECT_CODES as readonly string[]).includes(codeOf(r)), `${label}known code ${codeOf(r)}`)
  }
}

interface BlockFields {
  ts: string
  level: string
  service: string
  ticket: string
  session: string
  ip: string
  rt: string
  cpu: string
  event: string
  error: string
  ua: string
  message: string
  debug: string
  trace: string
}

const BASE: BlockFields = {
  ts: '2025-07-01 00:21:00',
  level: 'INFO',
  service: 'careplus.support.GenericService',
  ticket: 'TCK0701000',
  session: 'sess_TCK0701000',
  ip: '60.130.155.7',
  rt: '1269ms',
  cpu: '27.64%',
  event: 'generic_event',
  error: 'false',
  ua: '"PostmanRuntime/7.32.2"',
  message: '" event for TCK0701000"',
  debug: '"ℹ️ Logged for monitoring"',
  trace: 'None',
}

/** The six lines of a block (no separator). */
function blockLines(f: Partial<BlockFields> = {}): string[] {
  const b = { ...BASE, ...f }
  return [
    `${b.ts} [${b.level}] ${b.service} - TicketID=${b.ticket} SessionID=${b.session}`,
    `IP=${b.ip} | ResponseTime=${b.rt} | CPU=${b.cpu} | EventType=${b.event} | Error=${b.error}`,
    `UserAgent=${b.ua}`,
    `Message=${b.message}`,
    `Debug=${b.debug}`,
    `TraceID=${b.trace}`,
  ]
}

const block = (f: Partial<BlockFields> = {}): string => blockLines(f).join('\n') + '\n---\n'

const BASE_RECORD: LogRecord = {
  timestamp: '2025-07-01 00:21:00',
  log_level: 'INFO',
  service: 'careplus.support.GenericService',
  ticket_id: 'TCK0701000',
  session_id: 'sess_TCK0701000',
  ip: '60.130.155.7',
  response_time_ms: 1269,
  cpu_percent: 27.64,
  event_type: 'generic_event',
  error: 'false',
  user_agent: 'PostmanRuntime/7.32.2',
  message: ' event for TCK0701000',
  debug: 'ℹ️ Logged for monitoring',
  trace_id: 'None',
  _source_file: 'test.log',
  _source_line: 1,
}

t.test('the sample block maps to a LogRecord field by field', async (t) => {
  const p = parse(block())
  t.same(p.rows, [BASE_RECORD])
  t.same(p.rejects, [])
  t.same(p.stats, { bytes: Buffer.byteLength(block()), lines: 7, blocks: 1, rows: 1, rejects: 0 })
  t.same(Object.keys(p.rows[0]!), [
    'timestamp',
    'log_level',
    'service',
    'ticket_id',
    'session_id',
    'ip',
    'response_time_ms',
    'cpu_percent',
    'event_type',
    'error',
    'user_agent',
    'message',
    'debug',
    'trace_id',
    '_source_file',
    '_source_line',
  ])
})

t.test('sample.log fixture: dirty levels, negative times, inner quotes, any order of lines 3–6', async (t) => {
  const p = parse(fixture('sample.log'), { sourceFile: 'logs/sample.log' })
  checkInvariants(t, p)
  t.same(p.rejects, [])
  t.same(
    p.rows.map((r) => [r._source_line, r.log_level, r.response_time_ms, r.cpu_percent, r.timestamp]),
    [
      [1, 'INFO', 1269, 27.64, '2025-07-01 00:21:00'],
      [8, 'INF0', -35, 3.5, '2025-07-01 00:22:13'],
      [15, 'warnING', 0, 100, '2024-02-29 23:59:59'],
      [22, 'DEBG', 2147483647, 0.01, '2025-12-31 23:00:00'],
    ],
  )
  t.same(p.rows[1], {
    timestamp: '2025-07-01 00:22:13',
    log_level: 'INF0',
    service: 'careplus.support.AuthService',
    ticket_id: 'TCK0701001',
    session_id: 'sess_TCK0701001',
    ip: '10.0.0.1',
    response_time_ms: -35,
    cpu_percent: 3.5,
    event_type: 'login_attempt',
    error: 'true',
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
    message: 'User said "hi" | then left = ok',
    debug: '📈 Metrics flushed',
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    _source_file: 'logs/sample.log',
    _source_line: 8,
  })
  // Lines 3–6 written in reverse order; an empty quoted value.
  t.match(p.rows[2], { user_agent: 'curl/8.4.0', message: 'Ticket viewed event for TCK0701002', debug: '', trace_id: 'None' })
  t.equal(p.rows[3]!.message, 'Payment "declined"', 'only the outer quotes are removed')
  t.equal(p.rows[3]!.debug, '⚠️ retry scheduled')
  t.same(p.stats, { bytes: fixture('sample.log').length, lines: 28, blocks: 4, rows: 4, rejects: 0 })
})

t.test('messy.log fixture: every block ends as one record or one reject, good blocks around bad ones load', async (t) => {
  const p = parse(fixture('messy.log'))
  checkInvariants(t, p)
  t.same(
    p.rows.map((r) => [r._source_line, r.ticket_id]),
    [
      [2, 'TCK0701010'], // a whitespace-only line inside the block
      [13, 'TCK0701012'], // closed by the next header (no separator)
      [60, 'TCK0701019'], // last block: no separator, no final newline
    ],
  )
  t.same(rejectsOf(p), [
    ['too_few_lines', 10], // truncated in the middle, closed by the next header
    ['too_many_lines', 19],
    ['invalid_timestamp', 27],
    ['malformed_header', 34],
    ['malformed_field', 41],
    ['malformed_field', 48],
    ['too_few_lines', 55],
  ])
  t.equal(p.rejects[0]!.reason, 'too_few_lines: expected 6 lines, got 3')
  t.equal(p.rejects[1]!.reason, 'too_many_lines: expected 6 lines, got 7')
  t.match(p.rejects[2]!.reason, /^invalid_timestamp: 2025-02-30 01:00:04 /)
  t.match(p.rejects[4]!.reason, /^malformed_field: ResponseTime .*"abcms"/)
  t.equal(p.rejects[5]!.reason, 'malformed_field: CPU missing')
  t.equal(
    p.rejects[0]!.raw,
    [
      '2025-07-01 01:00:01 [EROR] careplus.support.GenericService - TicketID=TCK0701011 SessionID=sess_TCK0701011',
      'IP=1.2.3.4 | ResponseTime=12ms | CPU=1.00% | EventType=generic_event | Error=false',
      'UserAgent="PostmanRuntime/7.32.2"',
    ].join('\n'),
    'raw is the block text, without the line that closed it',
  )
  t.equal(p.rows[0]!.debug, '⚠️ retry scheduled')
  t.same(p.stats, { bytes: fixture('messy.log').length, lines: 65, blocks: 10, rows: 3, rejects: 7 })
})

t.test('CRLF line endings parse like LF, and a mix of both', async (t) => {
  const lf = block() + block({ ticket: 'TCK2', level: 'EROR' })
  const crlf = lf.replaceAll('\n', '\r\n')
  const mixed = lf
    .split('\n')
    .map((line, i) => line + (i % 2 ? '\r' : ''))
    .join('\n')
  const want = parse(lf)
  t.equal(want.rows.length, 2)
  for (const [label, input] of [
    ['crlf', crlf],
    ['mixed', mixed],
  ] as const) {
    const p = parse(input)
    checkInvariants(t, p, `${label}: `)
    t.same(p.rows, want.rows, `${label}: same records (no trailing \\r in values)`)
    t.same(p.stats.lines, want.stats.lines)
  }
  // A lone \r inside a line is data, not a line ending.
  t.equal(parse(block({ message: '"a\rb"' })).rows[0]!.message, 'a\rb')
})

t.test('a UTF-8 BOM at the very start is skipped, even split across chunks', async (t) => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf])
  const input = Buffer.concat([bom, Buffer.from(block())])
  const p = parse(input)
  t.same(p.rows, [BASE_RECORD])
  t.equal(p.stats.bytes, input.length, 'the BOM still counts as input bytes')
  for (const size of [1, 2, 4]) t.same(parseChunks(slices(input, size)).rows, [BASE_RECORD], `${size}-byte chunks`)
  // Only at the very start: elsewhere it is data.
  t.equal(parse(block({ message: '"\uFEFFx"' })).rows[0]!.message, '\uFEFFx')
  const second = parse(Buffer.concat([Buffer.from(block()), bom, Buffer.from(block())]))
  t.same(rejectsOf(second), [['malformed_header', 8]], 'a BOM before a later header is not skipped')
  // Two BOM bytes, then something else in the next chunk: the held bytes are data.
  const notBom = parseChunks([Buffer.from([0xef]), Buffer.from([0xbb]), Buffer.from('x\n---\n' + block())])
  t.same(rejectsOf(notBom), [['too_few_lines', 1]])
  t.equal(notBom.rejects[0]!.raw, Buffer.from([0xef, 0xbb, 0x78]).toString(), 'decoded with U+FFFD')
  t.same(notBom.rows, [{ ...BASE_RECORD, _source_line: 3 }])
  // A stream that is just part of a BOM is data.
  const partial = parse(Buffer.from([0xef, 0xbb]))
  t.same(rejectsOf(partial), [['truncated_block', 1]])
  t.same(partial.stats, { bytes: 2, lines: 1, blocks: 1, rows: 0, rejects: 1 })
})

t.test('blank and whitespace-only lines carry no data anywhere but count as lines', async (t) => {
  const lines = blockLines()
  const input = ['', ' \t', lines[0], '', lines[1], '\t', lines[2], lines[3], '   ', lines[4], lines[5], '', '---', '', '  ', ...blockLines({ ticket: 'B' }), '---', '', ''].join('\n')
  const p = parse(input)
  checkInvariants(t, p)
  t.same(
    p.rows.map((r) => [r._source_line, r.ticket_id]),
    [
      [3, 'TCK0701000'],
      [16, 'B'],
    ],
  )
  t.same({ ...p.rows[0], _source_line: 1 }, BASE_RECORD)
  t.equal(p.stats.lines, 23)
  t.same(parse('\n\n  \n\t\n').stats, { bytes: 7, lines: 4, blocks: 0, rows: 0, rejects: 0 }, 'only blank lines: no blocks')
  t.same(parse('').stats, { bytes: 0, lines: 0, blocks: 0, rows: 0, rejects: 0 })
  t.same(parse('---\n---\n\n---').stats.blocks, 0, 'stray separators are not blocks')
})

t.test('separator lines: `---` with optional trailing spaces or tabs, nothing else', async (t) => {
  const six = blockLines().join('\n')
  for (const sep of ['---', '---  \t', '--- \r']) {
    t.same(parse(`${six}\n${sep}\n${block({ ticket: 'B' })}`).rows.length, 2, JSON.stringify(sep))
  }
  for (const sep of ['----', '---x', '--', ' ---', '---' + ' '.repeat(70)]) {
    const p = parse(`${six}\n${sep}\n${block({ ticket: 'B' })}`)
    t.same(rejectsOf(p), [['too_many_lines', 1]], `${JSON.stringify(sep)} is a data line`)
    t.same(
      p.rows.map((r) => r.ticket_id),
      ['B'],
    )
  }
})

t.test('a final block without --- is a normal record, with or without a final newline', async (t) => {
  const six = blockLines().join('\n')
  for (const [label, input] of [
    ['no final newline', six],
    ['final newline', six + '\n'],
    ['CRLF, no final newline', six.replaceAll('\n', '\r\n')],
    ['trailing blank lines', six + '\n\n  \n'],
  ] as const) {
    const p = parse(input)
    checkInvariants(t, p, `${label}: `)
    t.same(p.rows, [BASE_RECORD], label)
  }
})

t.test('resync: a header-looking line closes the block in progress', async (t) => {
  const a = blockLines({ ticket: 'A' })
  const b = blockLines({ ticket: 'B' })
  const c = blockLines({ ticket: 'C' })
  // Missing separator between A and B; B truncated to 2 lines before C.
  const input = [...a, ...b.slice(0, 2), ...c, '---', ''].join('\n')
  const p = parse(input)
  checkInvariants(t, p)
  t.same(
    p.rows.map((r) => [r.ticket_id, r._source_line]),
    [
      ['A', 1],
      ['C', 9],
    ],
  )
  t.same(rejectsOf(p), [['too_few_lines', 7]])
  t.equal(p.rejects[0]!.raw, b.slice(0, 2).join('\n'))
  // A block that never had a separator at all: each header closes the previous block.
  const noSeparators = [...a, ...b, ...c].join('\n')
  t.same(
    parse(noSeparators).rows.map((r) => r.ticket_id),
    ['A', 'B', 'C'],
  )
  // Only by position: a line like a header but with a letter in the date is data.
  const fake = parse([...a.slice(0, 5), '2025-07-0x 00:00:00 [INFO] x - TicketID=1 SessionID=2', '---', ''].join('\n'))
  t.same(rejectsOf(fake), [['malformed_field', 1]], 'the fake header line is the 6th line of A')
})

t.test('line-count rejects: too_few_lines, too_many_lines, truncated_block', async (t) => {
  const lines = blockLines()
  const few = parse([...lines.slice(0, 4), '---', ''].join('\n'))
  t.same(few.rejects.map((r) => [r.reason, r._source_line]), [['too_few_lines: expected 6 lines, got 4', 1]])
  t.equal(few.rejects[0]!.raw, lines.slice(0, 4).join('\n'))
  const many = parse([...lines, 'Extra=1', 'Extra=2', '---', ''].join('\n'))
  t.same(many.rejects.map((r) => r.reason), ['too_many_lines: expected 6 lines, got 8'])
  t.equal(many.rejects[0]!.raw, [...lines, 'Extra=1', 'Extra=2'].join('\n'))
  const eof = parse(block() + lines.slice(0, 2).join('\n'))
  t.same(eof.rejects.map((r) => [r.reason, r._source_line]), [['truncated_block: expected 6 lines, got 2 before end of input', 8]])
  t.equal(eof.rows.length, 1)
  // More than six lines then end of input is still too many.
  t.same(rejectsOf(parse([...lines, 'X=1'].join('\n'))), [['too_many_lines', 1]])
  // A block that does not start with a header still ends as a reject.
  const junk = parse(['junk', '---', block()].join('\n'))
  t.same(rejectsOf(junk), [['too_few_lines', 1]])
  t.equal(junk.rows[0]!._source_line, 3)
  for (const p of [few, many, eof, junk]) checkInvariants(t, p)
})

t.test('malformed_header', async (t) => {
  const header = (line: string): Parsed => {
    const lines = blockLines()
    lines[0] = line
    return parse(lines.join('\n'))
  }
  const cases: [string, RegExp][] = [
    ['2025-07-01 00:21:00 INFO careplus - TicketID=A SessionID=B', /does not start with/],
    ['2025-07-01 00:21:00 [INFO careplus - TicketID=A SessionID=B', /no "\]"/],
    ['2025-07-01 00:21:00 [] careplus - TicketID=A SessionID=B', /empty log level/],
    ['2025-07-01 00:21:00 [INFO]careplus - TicketID=A SessionID=B', /expected "\] "/],
    ['2025-07-01 00:21:00 [INFO] careplus TicketID=A SessionID=B', /no " - "/],
    ['2025-07-01 00:21:00 [INFO]  - TicketID=A SessionID=B', /empty service/],
    ['2025-07-01 00:21:00 [INFO] careplus -TicketID=A SessionID=B', /no " - "/],
    ['  2025-07-01 00:21:00 [INFO] careplus - TicketID=A SessionID=B', /does not start with/],
  ]
  for (const [line, detail] of cases) {
    const p = header(line)
    t.same(rejectsOf(p), [['malformed_header', 1]], line)
    t.match(p.rejects[0]!.reason, detail)
  }
  // Accepted as written: spaces in the level, a dash inside the service, extra spaces between IDs.
  const ok = header('2025-07-01 00:21:00 [WARN ING] care-plus.x - TicketID=A  SessionID=B ')
  t.match(ok.rows[0], { log_level: 'WARN ING', service: 'care-plus.x', ticket_id: 'A', session_id: 'B' })
  t.match(header('2025-07-01 00:21:00 [INFO] s - SessionID=B TicketID=A').rows[0], { ticket_id: 'A', session_id: 'B' }, 'ID order is free')
})

t.test('invalid_timestamp: only real calendar date-times', async (t) => {
  const valid = ['2024-02-29 00:00:00', '2000-02-29 12:00:00', '2025-12-31 23:59:59', '2025-01-01 00:00:00', '0001-01-01 00:00:00', '9999-12-31 23:59:59', '2025-04-30 10:10:10']
  const invalid = ['2025-02-29 00:00:00', '1900-02-29 00:00:00', '2100-02-29 00:00:00', '2025-13-01 00:00:00', '2025-00-10 00:00:00', '2025-01-00 00:00:00', '2025-04-31 00:00:00', '2025-01-32 00:00:00', '2025-01-01 24:00:00', '2025-01-01 23:60:00', '2025-01-01 23:59:60', '0000-01-01 00:00:00']
  for (const ts of valid) t.equal(parse(block({ ts })).rows[0]?.timestamp, ts, `${ts} is valid`)
  for (const ts of invalid) {
    const p = parse(block({ ts }))
    t.same(p.rejects.map((r) => r.reason), [`invalid_timestamp: ${ts} is not a valid calendar date-time`], `${ts} is invalid`)
  }
})

t.test('malformed_field names the field', async (t) => {
  const withLine = (index: number, line: string): Parsed => {
    const lines = blockLines()
    lines[index] = line
    return parse(lines.join('\n'))
  }
  const header = (ids: string): Parsed => withLine(0, `2025-07-01 00:21:00 [INFO] svc - ${ids}`)
  const metrics = (line: string): Parsed => withLine(1, line)
  const cases: [string, Parsed, string | RegExp][] = [
    ['no TicketID', header('SessionID=B'), 'malformed_field: TicketID missing'],
    ['no SessionID', header('TicketID=A'), 'malformed_field: SessionID missing'],
    ['empty SessionID', header('TicketID=A SessionID='), 'malformed_field: SessionID is empty'],
    ['duplicate TicketID', header('TicketID=A TicketID=C SessionID=B'), 'malformed_field: TicketID duplicated'],
    ['duplicate SessionID', header('SessionID=B TicketID=A SessionID=B'), 'malformed_field: SessionID duplicated'],
    ['key prefix only', header('TicketID=A SessionI=B'), 'malformed_field: unexpected header token "SessionI=B"'],
    ['unknown header token', header('TicketID=A SessionID=B User=x'), 'malformed_field: unexpected header token "User=x"'],
    ['lowercase key', header('ticketid=A SessionID=B'), /unexpected header token "ticketid=A"/],
    ['IP missing', metrics('ResponseTime=1ms | CPU=1% | EventType=e | Error=false'), 'malformed_field: IP missing'],
    ['Error missing', metrics('IP=1 | ResponseTime=1ms | CPU=1% | EventType=e'), 'malformed_field: Error missing'],
    ['CPU duplicated', metrics('IP=1 | ResponseTime=1ms | CPU=1% | CPU=2% | EventType=e | Error=false'), 'malformed_field: CPU duplicated'],
    ['unknown key', metrics('IP=1 | ResponseTime=1ms | CPU=1% | Host=h | EventType=e | Error=false'), 'malformed_field: unknown key "Host" on line 2'],
    ['empty part', metrics('IP=1 |  | ResponseTime=1ms | CPU=1% | EventType=e | Error=false'), 'malformed_field: unknown key "" on line 2'],
    ['no separator spaces', metrics('IP=1 |ResponseTime=1ms | CPU=1% | EventType=e | Error=false'), 'malformed_field: ResponseTime missing'],
    ['misspelt key', metrics('IP=1 | ResponseTlme=1ms | CPU=1% | EventType=e | Error=false'), 'malformed_field: unknown key "ResponseTlme" on line 2'],
    ['ResponseTime without ms', metrics('IP=1 | ResponseTime=12 | CPU=1% | EventType=e | Error=false'), /^malformed_field: ResponseTime .* got "12"$/],
    ['ResponseTime decimal', metrics('IP=1 | ResponseTime=1.5ms | CPU=1% | EventType=e | Error=false'), /ResponseTime .* got "1\.5ms"/],
    ['ResponseTime over int32', metrics('IP=1 | ResponseTime=2147483648ms | CPU=1% | EventType=e | Error=false'), /ResponseTime .* got "2147483648ms"/],
    ['ResponseTime under int32', metrics('IP=1 | ResponseTime=-2147483649ms | CPU=1% | EventType=e | Error=false'), /ResponseTime/],
    ['ResponseTime trailing junk', metrics('IP=1 | ResponseTime=12ms x | CPU=1% | EventType=e | Error=false'), /ResponseTime .* got "12ms x"/],
    ['ResponseTime empty', metrics('IP=1 | ResponseTime=ms | CPU=1% | EventType=e | Error=false'), /ResponseTime/],
    ['CPU without %', metrics('IP=1 | ResponseTime=1ms | CPU=12.5 | EventType=e | Error=false'), /^malformed_field: CPU .* got "12\.5"$/],
    ['CPU not a number', metrics('IP=1 | ResponseTime=1ms | CPU=abc% | EventType=e | Error=false'), /CPU .* got "abc%"/],
    ['CPU with a bare dot', metrics('IP=1 | ResponseTime=1ms | CPU=5.% | EventType=e | Error=false'), /CPU/],
    ['CPU starting with a dot', metrics('IP=1 | ResponseTime=1ms | CPU=.5% | EventType=e | Error=false'), /CPU/],
    ['CPU exponent', metrics('IP=1 | ResponseTime=1ms | CPU=1e3% | EventType=e | Error=false'), /CPU/],
    ['CPU infinite', metrics(`IP=1 | ResponseTime=1ms | CPU=${'9'.repeat(400)}% | EventType=e | Error=false`), /CPU .*…$/],
    ['Message duplicated', withLine(4, 'Message="again"'), 'malformed_field: Message duplicated'],
    ['unknown key on line 4', withLine(3, 'Msg="x"'), 'malformed_field: unknown key "Msg" on line 4'],
    ['key without =', withLine(5, 'TraceID'), 'malformed_field: unknown key "TraceID" on line 6'],
    ['unterminated quote', withLine(2, 'UserAgent="curl/8'), 'malformed_field: UserAgent has an unterminated quoted value'],
    ['lone quote', withLine(4, 'Debug="'), 'malformed_field: Debug has an unterminated quoted value'],
    ['metrics line in the wrong place', withLine(2, 'IP=1 | ResponseTime=1ms | CPU=1% | EventType=e | Error=false'), /unknown key "IP" on line 3/],
  ]
  for (const [label, p, reason] of cases) {
    t.same(rejectsOf(p), [['malformed_field', 1]], label)
    if (typeof reason === 'string') t.equal(p.rejects[0]!.reason, reason, label)
    else t.match(p.rejects[0]!.reason, reason, label)
    checkInvariants(t, p, `${label}: `)
  }
})

t.test('field values are kept raw', async (t) => {
  const row = (f: Partial<BlockFields>): LogRecord => {
    const p = parse(block(f))
    t.same(p.rejects, [], JSON.stringify(f))
    return p.rows[0]!
  }
  t.equal(row({ rt: '-2147483648ms' }).response_time_ms, -2147483648)
  t.equal(row({ rt: '2147483647ms' }).response_time_ms, 2147483647)
  t.equal(row({ rt: '-0ms' }).response_time_ms, 0)
  t.ok(Object.is(row({ rt: '-0ms' }).response_time_ms, 0), '-0ms is 0, not -0')
  t.equal(row({ rt: '007ms' }).response_time_ms, 7)
  t.equal(row({ cpu: '-1.25%' }).cpu_percent, -1.25)
  t.equal(row({ cpu: '0.1%' }).cpu_percent, 0.1)
  t.equal(row({ cpu: '33.333333333333333333%' }).cpu_percent, 33.333333333333336, 'long decimals round like Number()')
  t.equal(row({ cpu: '12345678901234567890%' }).cpu_percent, 12345678901234567000)
  t.match(row({ ip: '', event: 'a=b', error: 'FALSE ' }), { ip: '', event_type: 'a=b', error: 'FALSE ' })
  t.match(row({ ip: 'fe80::1%eth0 |x', error: 'maybe|not' }), { ip: 'fe80::1%eth0 |x', error: 'maybe|not' }, 'only ` | ` separates parts')
  t.match(row({ ua: 'curl', message: '""', debug: '"a"b"', trace: '"x"' }), { user_agent: 'curl', message: '', debug: 'a"b', trace_id: 'x' })
  t.match(row({ message: 'tail "quoted"', trace: '' }), { message: 'tail "quoted"', trace_id: '' }, 'not wrapped: kept as is')
  t.match(row({ message: '"é — 🙂 | x = y"', debug: '"\u0000\t"' }), { message: 'é — 🙂 | x = y', debug: '\u0000\t' })
  t.match(row({ level: 'é', service: 'sérvice', ticket: '票', ip: 'ÿ', event: '🙂' }), { log_level: 'é', service: 'sérvice', ticket_id: '票', ip: 'ÿ', event_type: '🙂' })
  const lines = blockLines()
  lines[0] = '2025-07-01 00:21:00 [ÉRROR] sérvice - SessionID=会话 TicketID=票🙂'
  lines[1] = 'Error=ñ | EventType=é | CPU=1% | ResponseTime=2ms | IP=🙂'
  t.match(parse(lines.join('\n')).rows[0], { log_level: 'ÉRROR', service: 'sérvice', session_id: '会话', ticket_id: '票🙂', ip: '🙂', event_type: 'é', error: 'ñ' }, 'non-ASCII values in any order')
})

t.test('non-ASCII values decode exactly, repeated or not, short or long', async (t) => {
  // More distinct values than the decoder's cache has slots, each seen twice, some over 64 bytes.
  const values = Array.from({ length: 300 }, (_, i) => `${'é'.repeat(i % 40)}🙂${i}${i % 7 === 0 ? 'ж'.repeat(40) : ''}`)
  const order = [...values, ...values.slice().reverse()]
  const input = order.map((v, i) => block({ ticket: `T${i}`, debug: `"${v}"`, message: `"${v.length % 3 ? v : 'plain'}"` })).join('')
  const p = parseChunks(slices(Buffer.from(input), 4096))
  t.equal(p.rejects.length, 0)
  t.same(
    p.rows.map((r) => r.debug),
    order,
  )
  t.same(
    p.rows.map((r) => r.message),
    order.map((v) => (v.length % 3 ? v : 'plain')),
  )
})

t.test('invalid UTF-8 rejects only its block', async (t) => {
  const good = Buffer.from(block({ ticket: 'A' }))
  const bad = Buffer.from(block({ ticket: 'B', message: '"XX"' }))
  const at = bad.indexOf('XX')
  bad[at] = 0xc3 // a lead byte followed by an ASCII byte
  bad[at + 1] = 0x28
  const tail = Buffer.from(block({ ticket: 'C', debug: '"🙂"' }))
  const input = Buffer.concat([good, bad, tail])
  for (const [label, p] of [
    ['one chunk', parse(input)],
    ['8-byte chunks', parseChunks(slices(input, 8))],
  ] as const) {
    checkInvariants(t, p, `${label}: `)
    t.same(
      p.rows.map((r) => r.ticket_id),
      ['A', 'C'],
      label,
    )
    t.same(p.rejects.map((r) => [r.reason, r._source_line]), [['invalid_utf8: block is not valid UTF-8', 8]], label)
    t.ok(p.rejects[0]!.raw.includes('Message="\uFFFD("'), `${label}: raw is decoded with U+FFFD`)
  }
  // Invalid bytes outside any block (a garbage line) are a block of their own.
  const garbage = parse(Buffer.concat([good, Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from('---\n'), tail]))
  t.same(rejectsOf(garbage), [['too_few_lines', 8]])
  t.equal(garbage.rows.length, 2)
})

t.test('block_too_large: one reject, then skip to the next separator or header', async (t) => {
  const maxBlockBytes = 1024
  const huge = blockLines({ ticket: 'HUGE', message: `"${'m'.repeat(5000)}"` })
  const input = [...blockLines({ ticket: 'A' }), '---', ...huge, '---', ...blockLines({ ticket: 'B' }), '---', ''].join('\n')
  for (const size of [input.length, 100, 7, 1]) {
    const p = parseChunks(slices(Buffer.from(input), size), { maxBlockBytes, maxRejectRawBytes: 200 })
    checkInvariants(t, p, `${size}: `)
    t.same(
      p.rows.map((r) => r.ticket_id),
      ['A', 'B'],
      `${size}-byte chunks`,
    )
    t.same(p.rejects.map((r) => [r.reason, r._source_line]), [['block_too_large: block exceeds maxBlockBytes (1024 bytes)', 8]])
    t.equal(p.rejects[0]!.raw, huge.join('\n').slice(0, 200), 'raw is the first maxRejectRawBytes bytes')
    t.equal(p.stats.lines, 21)
  }

  // No separator after the huge block: the next header ends the skipping.
  const noSep = parse([...huge, ...blockLines({ ticket: 'B' })].join('\n'), { maxBlockBytes })
  t.same(rejectsOf(noSep), [['block_too_large', 1]])
  t.same(
    noSep.rows.map((r) => [r.ticket_id, r._source_line]),
    [['B', 7]],
  )

  // A huge line at the end of input.
  const atEof = parse(block() + 'x'.repeat(3000), { maxBlockBytes })
  t.same(rejectsOf(atEof), [['block_too_large', 8]])
  t.equal(atEof.rows.length, 1)

  // A huge header line: the block in progress is closed first (resync).
  const hugeHeader = parse([...blockLines({ ticket: 'A' }), `2025-07-01 00:00:00 [${'L'.repeat(2000)}] s - TicketID=1 SessionID=2`, ...blockLines({ ticket: 'B' })].join('\n'), { maxBlockBytes })
  t.same(rejectsOf(hugeHeader), [['block_too_large', 7]])
  t.same(
    hugeHeader.rows.map((r) => r.ticket_id),
    ['A', 'B'],
  )

  // Many normal lines without a separator also count.
  const endless = parse([...blockLines({ ticket: 'A' }).slice(0, 2), ...Array.from({ length: 200 }, (_, i) => `Extra=${i}`), '---', block({ ticket: 'B' })].join('\n'), { maxBlockBytes })
  t.same(rejectsOf(endless), [['block_too_large', 1]])
  t.same(
    endless.rows.map((r) => r.ticket_id),
    ['B'],
  )
  for (const p of [noSep, atEof, hugeHeader, endless]) checkInvariants(t, p)
})

t.test('a multi-megabyte line keeps memory bounded to about maxBlockBytes + one chunk', async (t) => {
  const chunkSize = 64 * 1024
  const input = Buffer.concat([
    Buffer.from(block({ ticket: 'A' })),
    Buffer.from(blockLines({ ticket: 'HUGE' }).slice(0, 3).join('\n') + '\nMessage="'),
    Buffer.alloc(5 * 1024 * 1024, 'x'),
    Buffer.from('"\nDebug="d"\nTraceID=None\n---\n'),
    Buffer.from(block({ ticket: 'B' })),
  ])
  const parser = new BlockParser({ sourceFile: 'big.log' })
  const out = parser.newBatch()
  let maxBuffered = 0
  for (const chunk of slices(input, chunkSize)) {
    parser.push(chunk, out)
    maxBuffered = Math.max(maxBuffered, parser.bufferedBytes)
  }
  parser.end(out)
  t.ok(maxBuffered <= DEFAULT_MAX_BLOCK_BYTES + chunkSize, `buffered at most ${maxBuffered} bytes`)
  t.ok(maxBuffered > DEFAULT_MAX_BLOCK_BYTES - chunkSize, 'it did buffer up to the limit first')
  t.same(
    out.rows.map((r) => r.ticket_id),
    ['A', 'B'],
  )
  t.same(
    out.rejects.map((r) => [codeOf(r), r._source_line, Buffer.byteLength(r.raw)]),
    [['block_too_large', 8, 4096]],
  )
  t.equal(parser.bufferedBytes, 0)
})

/**
 * What a parser that searched the whole carried partial line again on every
 * push would do: the quadratic bug the linear-time test below must catch.
 */
class RescanningParser extends BlockParser {
  protected override appendCarry(src: Buffer, from: number, to: number): void {
    super.appendCarry(src, from, to)
    this.lineEnd(this.carry, this.carryLineStart, this.carryLen)
  }
}

/** Work (bytes scanned) to parse one block whose message is `bytes` long, fed in 16-byte slices. */
function workFor(bytes: number, Parser: typeof BlockParser = BlockParser): { work: number; input: number } {
  const message = 'y'.repeat(bytes)
  const input = Buffer.from(block({ message: `"${message}"` }))
  const parser = new Parser({ sourceFile: 'long.log', maxBlockBytes: 16 * 1024 * 1024 })
  const out = parser.newBatch()
  for (const chunk of slices(input, 16)) parser.push(chunk, out)
  parser.end(out)
  if (out.rowCount !== 1 || out.rows[0]!.message.length !== bytes) throw new Error('the long block did not parse')
  return { work: parser.scannedBytes, input: input.length }
}

/** Linear: a few passes over the input at most (4 here), and 4x the input costs about 4x. Counts work, not time, so load cannot fail it. */
function linear(small: { work: number; input: number }, large: { work: number; input: number }): boolean {
  return large.work <= 6 * large.input && small.work <= 6 * small.input && large.work / small.work < 6
}

t.test('a long line inside the limit, fed in tiny chunks, is not rescanned (linear time)', async (t) => {
  const small = workFor(64 * 1024)
  const large = workFor(256 * 1024)
  t.ok(linear(small, large), `64 KiB block: ${small.work} bytes of work, 256 KiB: ${large.work} (${(large.work / small.work).toFixed(2)}x)`)
  const huge = workFor(8 * 1024 * 1024)
  t.ok(huge.work <= 6 * huge.input, `8 MiB in 16-byte slices: ${(huge.work / huge.input).toFixed(2)} bytes of work per input byte`)

  // The check is not vacuous: the rescanning parser fails it (about 16x for 4x the input).
  const rescanSmall = workFor(64 * 1024, RescanningParser)
  const rescanLarge = workFor(256 * 1024, RescanningParser)
  t.notOk(linear(rescanSmall, rescanLarge), `rescanning: ${rescanSmall.work} then ${rescanLarge.work} bytes of work (${(rescanLarge.work / rescanSmall.work).toFixed(2)}x)`)
})

t.test('raw is capped at maxRejectRawBytes on a UTF-8 character boundary', async (t) => {
  const lines = blockLines({ message: `"${'€'.repeat(100)}"` })
  const text = lines.slice(0, 4).join('\n')
  for (const cap of [0, 1, 150, 151, 152, 153, 10_000]) {
    const p = parse(text + '\n---\n', { maxRejectRawBytes: cap })
    const raw = p.rejects[0]!.raw
    t.ok(Buffer.byteLength(raw) <= cap, `cap ${cap}: ${Buffer.byteLength(raw)} bytes`)
    t.ok(text.startsWith(raw), `cap ${cap}: a prefix of the block`)
    t.notOk(raw.includes('\uFFFD'), `cap ${cap}: no broken character`)
    t.ok(Buffer.byteLength(raw) > cap - 3 || raw === text, `cap ${cap}: as long as fits`)
  }
})

t.test('every chunking gives the same result as one chunk', async (t) => {
  // BOM, CRLF, blank lines, a resync, invalid UTF-8, a too-large block, a truncated block at the end.
  const bad = Buffer.from(block({ ticket: 'BAD' }))
  bad[bad.indexOf('BAD') + 1] = 0xff
  const input = Buffer.concat([
    Buffer.from([0xef, 0xbb, 0xbf]),
    fixture('sample.log'),
    Buffer.from(block({ ticket: 'CRLF', debug: '"🙂 é"' }).replaceAll('\n', '\r\n')),
    Buffer.from('\n \n'),
    Buffer.from(blockLines({ ticket: 'R' }).slice(0, 3).join('\n') + '\n'),
    bad,
    Buffer.from(blockLines({ ticket: 'BIG', message: `"${'€'.repeat(200)}"` }).join('\n') + '\n---\n'),
    // Too large, then while skipping: a long junk line and a too-large header (a new block).
    Buffer.from(blockLines({ ticket: 'BIG2', message: `"${'m'.repeat(600)}"` }).join('\n') + '\n'),
    Buffer.from('j'.repeat(100) + '\n' + `2025-07-01 00:00:00 [${'L'.repeat(700)}] s - TicketID=1 SessionID=2\n---\n`),
    // A too-large header while a block is in progress: that block is closed first.
    Buffer.from(blockLines({ ticket: 'A2' }).join('\n') + '\n'),
    Buffer.from(`2025-07-01 00:00:00 [${'L'.repeat(700)}] s - TicketID=1 SessionID=2\n`),
    Buffer.from(block({ ticket: 'B2' })),
    fixture('messy.log'),
    Buffer.from('\n' + blockLines({ ticket: 'END' }).slice(0, 4).join('\r\n')),
  ])
  const opts = { maxBlockBytes: 512, maxRejectRawBytes: 100 }
  const whole = parse(input, opts)
  checkInvariants(t, whole)
  t.same(
    whole.rows.map((r) => r.ticket_id),
    ['TCK0701000', 'TCK0701001', 'TCK0701002', 'TCK0701003', 'CRLF', 'A2', 'B2', 'TCK0701010', 'TCK0701012', 'TCK0701019'],
  )
  t.same(rejectsOf(whole).map(([code]) => code), [
    'too_few_lines',
    'invalid_utf8',
    'block_too_large',
    'block_too_large',
    'block_too_large',
    'block_too_large',
    'too_few_lines',
    'too_many_lines',
    'invalid_timestamp',
    'malformed_header',
    'malformed_field',
    'malformed_field',
    'too_few_lines',
    'truncated_block',
  ])
  t.equal(whole.rows[4]!.debug, '🙂 é')

  const failures: string[] = []
  const check = (label: string, chunks: Uint8Array[]): void => {
    const p = parseChunks(chunks, opts)
    if (failures.length < 3 && !isDeepStrictEqual(p, whole)) {
      failures.push(label)
      t.strictSame(p, whole, label)
    }
  }
  for (let size = 1; size <= 300; size++) check(`${size}-byte chunks`, slices(input, size))
  for (let cut = 1; cut < input.length; cut++) check(`cut at ${cut}`, [input.subarray(0, cut), input.subarray(cut)])
  t.same(failures, [], `all 300 slicings and ${input.length - 1} cut points agree`)
})

t.test('accepts plain Uint8Array chunks', async (t) => {
  const bytes = new Uint8Array(Buffer.from(block()))
  t.same(parseChunks([bytes.subarray(0, 50), bytes.subarray(50)]).rows, [BASE_RECORD])
})

t.test('options and lifecycle', async (t) => {
  t.throws(() => new BlockParser({ sourceFile: 'x', maxBlockBytes: 100 }), RangeError)
  t.throws(() => new BlockParser({ sourceFile: 'x', maxBlockBytes: 1.5e3 + 0.5 }), RangeError)
  t.throws(() => new BlockParser({ sourceFile: 'x', maxRejectRawBytes: -1 }), RangeError)
  const parser = new BlockParser({ sourceFile: 'x' })
  const out = parser.newBatch()
  parser.push(Buffer.from(blockLines().join('\n')), out)
  t.equal(out.rows.length, 0, 'the last block waits for end()')
  t.ok(parser.bufferedBytes > 0)
  parser.end(out)
  t.equal(out.rows.length, 1)
  parser.end(out)
  t.equal(out.rows.length, 1, 'end() twice is harmless')
  t.throws(() => parser.push(Buffer.from('x'), out), /after end/)
  t.equal(DEFAULT_MAX_BLOCK_BYTES, 1024 * 1024)
})
