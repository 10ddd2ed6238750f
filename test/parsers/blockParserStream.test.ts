import { createReadStream } from 'node:fs'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setImmediate as tick } from 'node:timers/promises'
import { createGunzip } from 'node:zlib'
import t from 'tap'
import { BlockParser } from '../../parsers/blockParser.js'
import { createBlockParserStream } from '../../parsers/blockParserStream.js'
import type { ParseBatch } from '../../parsers/logRecord.js'

import { coreParse, fixture, FIXTURES, slices } from '../support/parse.js'

/** An objectMode sink that keeps every batch; `delay` makes it a slow consumer. */
function collector(opts: { highWaterMark?: number; onBatch?: (batch: ParseBatch) => Promise<void> | void } = {}) {
  const batches: ParseBatch[] = []
  const sink = new Writable({
    objectMode: true,
    highWaterMark: opts.highWaterMark ?? 16,
    write(batch: ParseBatch, _encoding, cb) {
      batches.push(batch)
      Promise.resolve(opts.onBatch?.(batch)).then(() => cb(), cb)
    },
  })
  return { sink, batches }
}

const block = (ticket: string): string =>
  [
    `2025-07-01 00:21:00 [INFO] careplus.support.GenericService - TicketID=${ticket} SessionID=sess_${ticket}`,
    'IP=60.130.155.7 | ResponseTime=1269ms | CPU=27.64% | EventType=generic_event | Error=false',
    'UserAgent="PostmanRuntime/7.32.2"',
    `Message=" event for ${ticket}"`,
    'Debug="ℹ️ Logged for monitoring"',
    'TraceID=None',
    '---',
    '',
  ].join('\n')

t.test('pipeline: chunks in, one non-empty ParseBatch per chunk at most, same result as the core', async (t) => {
  const input = Buffer.concat([fixture('sample.log'), fixture('messy.log')])
  const chunks = slices(input, 97)
  const parser = createBlockParserStream({ sourceFile: 'mixed.log' })
  const { sink, batches } = collector()
  await pipeline(Readable.from(chunks), parser, sink)

  const want = coreParse(input, 'mixed.log')
  t.same(
    batches.flatMap((b) => b.rows),
    want.rows,
  )
  t.same(
    batches.flatMap((b) => b.rejects),
    want.rejects,
  )
  t.equal(want.rows.length, 7)
  t.equal(want.rejects.length, 7)
  t.ok(batches.length <= chunks.length + 1, `${batches.length} batches for ${chunks.length} chunks`)
  t.ok(
    batches.every((b) => b.rows.length + b.rejects.length > 0),
    'no empty batches',
  )
  t.same(parser.stats, { bytes: input.length, lines: 93, blocks: 14, rows: 7, rejects: 7 })
})

t.test('the last block is emitted at flush', async (t) => {
  const input = Buffer.from(block('A') + block('B').replace(/---\n$/, ''))
  const { sink, batches } = collector()
  const parser = createBlockParserStream({ sourceFile: 'x.log' })
  await pipeline(Readable.from([input]), parser, sink)
  t.same(
    batches.map((b) => b.rows.map((r) => r.ticket_id)),
    [['A'], ['B']],
    'A with the chunk, B at flush',
  )
  t.same(parser.stats, { bytes: input.length, lines: 13, blocks: 2, rows: 2, rejects: 0 })
})

t.test('bad input is rejects, never a stream error', async (t) => {
  const garbage = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x0a]), Buffer.from('x'.repeat(5000)), Buffer.from('\n---\n' + block('OK'))])
  const { sink, batches } = collector()
  const parser = createBlockParserStream({ sourceFile: 'g.log', maxBlockBytes: 1024 })
  await pipeline(Readable.from(slices(garbage, 100)), parser, sink)
  t.same(
    batches.flatMap((b) => b.rows.map((r) => r.ticket_id)),
    ['OK'],
  )
  t.same(
    batches.flatMap((b) => b.rejects.map((r) => r.reason.split(':')[0])),
    ['block_too_large'],
  )
  t.equal(parser.stats.blocks, parser.stats.rows + parser.stats.rejects)
})

t.test('a failure inside the parser reaches the pipeline as an error', async (t) => {
  const push = BlockParser.prototype.push
  t.teardown(() => {
    BlockParser.prototype.push = push
  })
  BlockParser.prototype.push = function () {
    throw new Error('boom')
  }
  const { sink } = collector()
  await t.rejects(pipeline(Readable.from([Buffer.from(block('A'))]), createBlockParserStream({ sourceFile: 'x' }), sink), /boom/)

  BlockParser.prototype.push = push
  const end = BlockParser.prototype.end
  t.teardown(() => {
    BlockParser.prototype.end = end
  })
  BlockParser.prototype.end = function () {
    throw new Error('flush boom')
  }
  await t.rejects(pipeline(Readable.from([Buffer.from(block('A'))]), createBlockParserStream({ sourceFile: 'x' }), collector().sink), /flush boom/)
})

t.test('invalid options throw at creation', async (t) => {
  t.throws(() => createBlockParserStream({ sourceFile: 'x', maxBlockBytes: 10 }), RangeError)
})

t.test('backpressure: a slow consumer keeps the parser from buffering ahead', async (t) => {
  const input = Buffer.from(Array.from({ length: 20_000 }, (_, i) => block(`T${i}`)).join(''))
  for (const { chunkSize, writableHighWaterMark } of [
    { chunkSize: 4096, writableHighWaterMark: 16 * 1024 },
    { chunkSize: 64 * 1024, writableHighWaterMark: undefined }, // the default, 512 KiB
  ]) {
    const label = `${chunkSize}-byte chunks, writableHighWaterMark ${writableHighWaterMark ?? 'default'}`
    const chunks = slices(input, chunkSize)
    const highWaterMark = 2
    const parser = createBlockParserStream({ sourceFile: 'big.log', highWaterMark, writableHighWaterMark })
    let pulled = 0
    async function* source() {
      for (const chunk of chunks) {
        pulled++
        yield chunk
      }
    }
    let consumed = 0
    let maxReadable = 0
    let maxWritable = 0
    let maxAhead = 0
    // Sample the readable side right after every batch the parser pushes.
    const push = parser.push.bind(parser)
    parser.push = (batch: unknown) => {
      const room = push(batch)
      maxReadable = Math.max(maxReadable, parser.readableLength)
      return room
    }
    const { sink } = collector({
      highWaterMark: 1,
      onBatch: async () => {
        consumed++
        maxWritable = Math.max(maxWritable, parser.writableLength)
        maxAhead = Math.max(maxAhead, pulled - consumed)
        await tick()
        await tick()
      },
    })
    await pipeline(source(), parser, sink)
    t.equal(parser.stats.rows, 20_000, label)
    t.equal(consumed, chunks.length, `${label}: one batch per chunk (every chunk completes a block)`)
    t.equal(maxReadable, highWaterMark, `${label}: the readable side filled up to its highWaterMark, never more`)
    const writableLimit = parser.writableHighWaterMark
    t.ok(maxWritable <= writableLimit + chunkSize, `${label}: writable side held at most ${maxWritable} bytes`)
    // Between source and sink: the generator's stream (16 chunks), the parser's writable side,
    // the chunk being parsed, its readable side, the sink (1).
    const bound = 16 + Math.ceil(writableLimit / chunkSize) + 1 + highWaterMark + 1 + 2
    t.ok(maxAhead <= bound, `${label}: the source was read at most ${maxAhead} chunks ahead of the consumer (bound ${bound})`)
    t.ok(maxAhead < chunks.length / 4, `${label}: far from reading all ${chunks.length} chunks up front`)
  }
})

t.test('write() is accepted before the chunk is parsed, so the source can read on meanwhile', async (t) => {
  const parser = createBlockParserStream({ sourceFile: 'x.log' })
  const batches: ParseBatch[] = []
  parser.on('data', (b: ParseBatch) => batches.push(b))
  t.equal(parser.write(Buffer.from(block('A'))), true, 'accepted without backpressure')
  t.equal(parser.stats.bytes, 0, 'not parsed yet')
  await tick()
  t.equal(parser.stats.bytes, Buffer.byteLength(block('A')))
  t.same(
    batches.flatMap((b) => b.rows.map((r) => r.ticket_id)),
    ['A'],
  )
  // Destroyed with a chunk pending: nothing more happens.
  parser.write(Buffer.from(block('B')))
  parser.destroy()
  await tick()
  await tick()
  t.equal(parser.stats.rows, 1)
  t.equal(batches.length, 1)
})

t.test('gzip fixture through createGunzip()', async (t) => {
  const parser = createBlockParserStream({ sourceFile: 'sample.log.gz' })
  const { sink, batches } = collector()
  await pipeline(createReadStream(new URL('sample.log.gz', FIXTURES)), createGunzip(), parser, sink)
  const rows = batches.flatMap((b) => b.rows)
  t.same(
    rows.map((r) => [r.ticket_id, r.log_level, r.response_time_ms, r._source_line]),
    [
      ['TCK0701000', 'INFO', 1269, 1],
      ['TCK0701001', 'INF0', -35, 8],
      ['TCK0701002', 'warnING', 0, 15],
      ['TCK0701003', 'DEBG', 2147483647, 22],
    ],
  )
  t.same(rows, coreParse(fixture('sample.log'), 'sample.log.gz').rows, 'same records as the uncompressed file')
  t.equal(parser.stats.bytes, fixture('sample.log').length, 'counts decompressed bytes')
  t.equal(parser.stats.rejects, 0)
})
