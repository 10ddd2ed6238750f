import { readFileSync } from 'node:fs'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { BlockParser, type BlockParserOptions } from '../../parsers/blockParser.js'
import { LOG_COLUMNS, type LogReject } from '../../parsers/logRecord.js'
import { csvHeader, encodeCsvBatch } from '../../sinks/csvEncoding.js'
import { LogCsvEncoder } from '../../sinks/logCsvEncoder.js'
import { createLogCsvChain } from '../../sinks/logCsvStream.js'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { coreParse, fixture, slices } from '../support/parse.js'
import { logBlock } from '../support/logBlock.js'

/**
 * The input parsed in `chunks` with one parser, each batch encoded from its
 * spans as the stage does, and the same batches' records encoded as text
 * (today's `encodeCsvBatch`): both CSVs, to be compared byte for byte.
 */
function bothCsvs(chunks: Iterable<Uint8Array>, opts: Partial<BlockParserOptions> = {}): { spans: Buffer; records: Buffer; rows: number } {
  const parser = new BlockParser({ sourceFile: 'logs/test.log', ...opts })
  const encoder = new LogCsvEncoder()
  const fromSpans: Buffer[] = []
  const fromRecords: string[] = []
  let rows = 0
  const take = (batch: ReturnType<BlockParser['newBatch']>): void => {
    // Encoded into a dirty buffer at an odd offset: nothing may depend on zeroed or aligned output.
    const out = Buffer.alloc(encoder.maxBytes(batch) + 7, 0xee)
    const end = encoder.encodeInto(batch, out, 7)
    fromSpans.push(out.subarray(7, end))
    fromRecords.push(encodeCsvBatch(batch.rows, LOG_COLUMNS))
    rows += batch.rowCount
  }
  for (const chunk of chunks) {
    const batch = parser.newBatch(chunk.length)
    parser.push(chunk, batch)
    take(batch)
  }
  const last = parser.newBatch()
  parser.end(last)
  take(last)
  return { spans: Buffer.concat(fromSpans), records: Buffer.from(fromRecords.join('')), rows }
}

function sameCsv(t: Test, input: Buffer, sizes: number[], label: string, opts: Partial<BlockParserOptions> = {}): void {
  const want = Buffer.from(encodeCsvBatch(coreParse(input, opts.sourceFile ?? 'logs/test.log').rows, LOG_COLUMNS))
  let failures = 0
  for (const size of sizes) {
    const got = bothCsvs(slices(input, size), opts)
    if (!got.spans.equals(want) || !got.records.equals(want)) {
      if (failures++ < 2) t.equal(got.spans.toString('utf8'), want.toString('utf8'), `${label}, ${size}-byte slices`)
    }
  }
  t.equal(failures, 0, `${label}: the CSV from spans is byte for byte today's, in ${sizes.length} slicings`)
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

t.test('fixtures: same CSV as encodeCsvBatch of the records, in every slicing', async (t) => {
  for (const name of ['sample.log', 'messy.log']) {
    const input = fixture(name)
    sameCsv(t, input, [...range(1, 64), 97, 256, 4096, input.length], name)
  }
  const gz = bothCsvs([fixture('sample.log')])
  t.equal(gz.rows, 4)
})

t.test('generated data (the generator as `careplus generate --size` writes it), in N-byte slices', async (t) => {
  const gen = await generateLogs({ outDir: t.testdir(), days: 1, sizeBytes: 400_000 })
  const input = readFileSync(gen.files[0]!)
  const want = Buffer.from(csvHeader(LOG_COLUMNS) + encodeCsvBatch(coreParse(input, 'logs/careplus-2025-07-01.log').rows, LOG_COLUMNS))
  for (const size of [1, 7, 64, 1000, 4096, 65_536, 262_144, input.length]) {
    const got = bothCsvs(slices(input, size), { sourceFile: 'logs/careplus-2025-07-01.log' })
    t.equal(got.rows, gen.events, `${size}-byte slices: every generated event is a row`)
    t.ok(Buffer.concat([Buffer.from(csvHeader(LOG_COLUMNS)), got.spans]).equals(want), `${size}-byte slices: byte for byte`)
  }
})

t.test('quoting: `"`, `,`, `\\r`, empty values, non-ASCII, at every position and length', async (t) => {
  const values = ['', 'a', 'ab,', ',', '"', '""', 'x"y', 'a\rb', 'é', '🙂,', 'ℹ️ Logged', 'abcdefghijklmnop', 'abcdefghijklmno,', ',bcdefghijklmnopq', 'abcdefghijklmnopqrstuvwxyz012345"', 'Mozilla/5.0 (KHTML, like Gecko) Chrome/126.0.0.0']
  const blocks: string[] = []
  for (const v of values) {
    blocks.push(logBlock({ level: v || 'L', service: v.replaceAll(' ', '_') || 's', ticket: v.replaceAll(' ', '_') || 't', ip: v, event: v, error: v }))
    blocks.push(logBlock({ ua: `"${v}"`, message: v.startsWith('"') ? `"${v}"` : v, debug: `"${v}"`, trace: `"${v}"` }))
  }
  const input = Buffer.from(blocks.join(''))
  t.equal(coreParse(input, 'x').rejects.length, 0, 'every block is a record')
  sameCsv(t, input, [1, 3, 16, 17, 333, input.length], 'awkward values')
  // And the end of a buffer: the last block without a newline, so its fields end at the buffer's last byte.
  for (const v of values) {
    const tail = Buffer.from(logBlock({ trace: v ? `"${v}"` : 'x' }).replace(/\n---\n$/, ''))
    sameCsv(t, tail, [tail.length, 5], `last block, trace ${JSON.stringify(v)}`)
  }
})

t.test('numbers: their bytes when JS prints them so, else what `"" + value` prints', async (t) => {
  const rts = ['0', '-0', '7', '007', '-007', '10', '2147483647', '-2147483648', '0000000000000000000012']
  const cpus = ['27.64', '27.640', '0', '-0', '0.0', '-0.0', '00.5', '0.5', '-0.5', '100', '100.0', '0.000001', '0.0000001', '0.00000123', '123456789012345', '1234567890123456', '123456789012345.5', '1.1000000000000001', '999999999999999999999999', '0.30000000000000004', '05']
  const blocks = rts.flatMap((rt) => cpus.map((cpu) => logBlock({ rt, cpu })))
  const input = Buffer.from(blocks.join(''))
  const parsed = coreParse(input, 'x')
  t.equal(parsed.rows.length, rts.length * cpus.length)
  sameCsv(t, input, [input.length, 211], 'numbers')
  const csv = bothCsvs([Buffer.from(logBlock({ rt: '-007', cpu: '27.640' }))]).spans.toString()
  t.match(csv, /,-7,27\.64,/, 'written as the record holds them: -7 and 27.64')
})

t.test('_source_file is encoded once per source, quoted when it needs to be', async (t) => {
  const input = Buffer.from(logBlock() + logBlock({ ticket: 'B' }))
  for (const sourceFile of ['logs/plain.log', 'logs/a,b.log', 'logs/"q".log', '', 'logs/é 🙂.log']) {
    sameCsv(t, input, [input.length, 100], `source ${JSON.stringify(sourceFile)}`, { sourceFile })
  }
  // One encoder over batches of two sources.
  const encoder = new LogCsvEncoder()
  const csv = ['a.log', 'b,c.log'].map((name) => {
    const parser = new BlockParser({ sourceFile: name })
    const batch = parser.newBatch()
    parser.push(input, batch)
    parser.end(batch)
    return encoder.encode(batch).toString()
  })
  t.same(
    csv.map((c) => c.split('\n').filter(Boolean).map((line) => line.split(',').slice(-2)[0])),
    [['a.log', 'a.log'], ['c.log"', 'c.log"']],
  )
})

t.test('random blocks: the CSV from spans is today’s CSV of the records', async (t) => {
  const value = fc.stringMatching(/^[a-zA-Z0-9 ",\r\\'é😀ℹ️|=-]{0,40}$/)
  const token = fc.stringMatching(/^[a-zA-Z0-9",é\r_-]{1,20}$/)
  const number = fc.stringMatching(/^-?[0-9]{1,4}$/)
  const cpu = fc.tuple(fc.stringMatching(/^-?[0-9]{1,17}$/), fc.option(fc.stringMatching(/^[0-9]{1,9}$/), { nil: undefined })).map(([i, f]) => (f === undefined ? i : `${i}.${f}`))
  const fields = fc.record({ ticket: token, session: token, ip: value, rt: number, cpu, event: value, ua: value, message: value, debug: value, trace: value })
  fc.assert(
    fc.property(fc.array(fields, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 64 }), (list, size) => {
      const input = Buffer.from(
        list
          .map((f) =>
            logBlock({
              ...f,
              ip: f.ip.replaceAll(' | ', ' |'),
              event: f.event.replaceAll(' | ', ' |'),
              ua: `"${f.ua}"`,
              message: `"${f.message}"`,
              debug: `"${f.debug}"`,
              trace: `"${f.trace}"`,
            }),
          )
          .join(''),
      )
      const want = encodeCsvBatch(coreParse(input, 'logs/test.log').rows, LOG_COLUMNS)
      const got = bothCsvs(slices(input, size)).spans.toString('utf8')
      if (got !== want) t.equal(got, want)
      return got === want
    }),
    { numRuns: 500 },
  )
  t.pass('500 random documents')
})

t.test('encodeInto refuses a buffer without room for the bound', async (t) => {
  const parser = new BlockParser({ sourceFile: 'x' })
  const batch = parser.newBatch()
  parser.push(Buffer.from(logBlock()), batch)
  const encoder = new LogCsvEncoder()
  t.throws(() => encoder.encodeInto(batch, Buffer.alloc(encoder.maxBytes(batch) - 1), 0), RangeError)
  t.equal(encoder.encode(parser.newBatch()).length, 0, 'an empty batch is no bytes')
})

t.test('createLogCsvChain: header, then the rows; rejects to onRejects', async (t) => {
  const input = Buffer.concat([fixture('sample.log'), fixture('messy.log')])
  const rejects: LogReject[] = []
  const { parser, streams } = createLogCsvChain({ sourceFile: 'mixed.log', onRejects: (r) => rejects.push(...r) })
  const chunks: Buffer[] = []
  await pipeline(
    Readable.from(slices(input, 50)),
    ...streams,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk)
        cb()
      },
    }),
  )
  const want = coreParse(input, 'mixed.log')
  t.equal(Buffer.concat(chunks).toString('utf8'), csvHeader(LOG_COLUMNS) + encodeCsvBatch(want.rows, LOG_COLUMNS))
  t.same(rejects, want.rejects)
  t.equal(parser.stats.rows, 7)

  const empty: Buffer[] = []
  const none = createLogCsvChain({ sourceFile: 'e', header: true, onRejects: () => {} })
  await pipeline(Readable.from([Buffer.alloc(0)]), ...none.streams, new Writable({ write: (c: Buffer, _e, cb) => (empty.push(c), cb()) }))
  t.equal(Buffer.concat(empty).toString(), csvHeader(LOG_COLUMNS), 'no input: the header alone')
  const bare: Buffer[] = []
  const noHeader = createLogCsvChain({ sourceFile: 'e', header: false, onRejects: () => {} })
  await pipeline(Readable.from([Buffer.from(logBlock())]), ...noHeader.streams, new Writable({ write: (c: Buffer, _e, cb) => (bare.push(c), cb()) }))
  t.equal(Buffer.concat(bare).toString(), encodeCsvBatch(coreParse(Buffer.from(logBlock()), 'e').rows, LOG_COLUMNS), 'header: false')
})
