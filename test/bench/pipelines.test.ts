import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { gunzipSync } from 'node:zlib'
import t from 'tap'
import { LOG_COLUMNS, type ParseBatch } from '../../parsers/logRecord.js'
import { csvHeader, encodeCsvBatch } from '../../sinks/csvEncoding.js'
import { sourceKey, type BenchInput } from '../../bench/harness.js'
import { describeInput } from '../../bench/input.js'
import parse from '../../bench/cases/parse.js'
import { parseCsvChain } from '../../bench/cases/parseCsv.js'
import { parseCsvGzipChain } from '../../bench/cases/parseCsvGzip.js'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { coreParse } from '../support/parse.js'

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/logs')

/** What the pure parser core makes of the whole file in one push: the reference for every bench pipeline. */
const coreParseOf = (input: BenchInput): ParseBatch => coreParse(readFileSync(input.file), sourceKey(input))

function collect(): { sink: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk)
      cb()
    },
  })
  return { sink, bytes: () => Buffer.concat(chunks) }
}

/** The generator's data (over several 256 KiB reads), and a fixture full of rejects. */
async function inputs(dir: string): Promise<BenchInput[]> {
  const gen = await generateLogs({ outDir: dir, days: 1, sizeBytes: 700_000 })
  return [{ file: gen.files[0]!, bytes: gen.bytes, events: gen.events }, describeInput(path.join(FIXTURES, 'messy.log'))]
}

t.test('the bench pipelines produce exactly what the parser core and the CSV encoder produce', async (t) => {
  for (const input of await inputs(t.testdir())) {
    const expected = coreParseOf(input)
    const csv = csvHeader(LOG_COLUMNS) + encodeCsvBatch(expected.rows, LOG_COLUMNS)
    const name = path.basename(input.file)

    const m = await parse.run({ input, workDir: '' })
    t.equal(m.events, expected.rows.length + expected.rejects.length, `${name}: parse counts every record and reject`)
    t.equal(m.bytes, readFileSync(input.file).length, `${name}: parse reads every byte`)

    const plain = parseCsvChain(input)
    const plainOut = collect()
    await pipeline([...plain.streams, plainOut.sink])
    t.equal(plainOut.bytes().toString('utf8'), csv, `${name}: parse-csv writes the records' CSV`)

    for (const settings of [{ level: 6 }, { level: 1 }, { level: 6, chunkBytes: 1024 * 1024 }, { level: 6, concurrentFiles: 2 }]) {
      const label = `${name}: parse-csv-gzip ${JSON.stringify(settings)}`
      const files = new Map<string, Buffer>()
      const gz = parseCsvGzipChain(input, settings, async (key, body) => {
        const chunks: Buffer[] = []
        for await (const chunk of body) chunks.push(chunk as Buffer)
        files.set(key, Buffer.concat(chunks))
        return { etag: '' }
      })
      await pipeline(gz.streams)
      const staged = await gz.finish()
      t.equal(gz.parser.stats.rows, expected.rows.length)
      const rows = [...files.keys()].filter((k) => k.startsWith('bench/rows/')).sort()
      if (!settings.concurrentFiles) {
        t.same(rows, ['bench/rows/part-00000.csv.gz'], `${label}: one file`)
        t.equal(gunzipSync(files.get(rows[0]!)!).toString('utf8'), csv, `${label}: compresses the same CSV`)
        continue
      }
      // Batches dealt to two files: each starts with the header; together they hold every row once.
      const texts = rows.map((k) => gunzipSync(files.get(k)!).toString('utf8'))
      t.ok(texts.every((x) => x.startsWith(csvHeader(LOG_COLUMNS))), `${label}: a header per file`)
      const lines = (x: string): string[] => x.slice(csvHeader(LOG_COLUMNS).length).split('\n').filter(Boolean)
      t.same(texts.flatMap(lines).sort(), lines(csv).sort(), `${label}: the same rows, across ${rows.length} files`)
      t.equal(staged.rows.files.reduce((n, f) => n + f.rows, 0), expected.rows.length, `${label}: staged row counts add up`)
    }
  }
})

t.test('the parser as the bench drives it (a stream of 256 KiB reads) yields what the core yields in one push', async (t) => {
  for (const input of await inputs(t.testdir())) {
    const expected = coreParseOf(input)
    const { parser, streams } = parseCsvChain(input)
    const batches: ParseBatch[] = []
    await pipeline(
      streams[0],
      parser,
      new Writable({
        objectMode: true,
        write(batch: ParseBatch, _enc, cb) {
          batches.push(batch)
          cb()
        },
      }),
    )
    t.same(
      { rows: batches.flatMap((b) => b.rows), rejects: batches.flatMap((b) => b.rejects) },
      expected,
      `${path.basename(input.file)}: same records and rejects`,
    )
    if (input.events > 0) t.equal(expected.rows.length, input.events, 'every generated event is a record')
  }
})
