import { readFileSync } from 'node:fs'
import { stringify } from 'csv-stringify/sync'
import fc from 'fast-check'
import t from 'tap'
import { LOG_COLUMNS, REJECT_COLUMNS } from '../../parsers/logRecord.js'
import { csvHeader, encodeCsvBatch } from '../../sinks/csvEncoding.js'
import { TICKET_CSV_COLUMNS } from '../../src/load/bronzeSchema.js'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { coreParse } from '../support/parse.js'

/** The reference: csv-stringify with the stage dialect's options (those it used before, plus quoting a lone \r). */
function csvStringify(records: object[], columns: readonly string[]): string {
  if (records.length === 0) return ''
  return stringify(records, {
    columns: columns as string[],
    header: false,
    quoted_match: [/^$/, /\r/],
    record_delimiter: 'unix',
    cast: { boolean: (v: boolean) => (v ? 'true' : 'false'), date: (v: Date) => v.toISOString() },
  })
}

const COLUMNS = ['a', 'b', 'c', 'd'] as const
const awkwardString = fc.stringMatching(/^[a-z",\n\r \\'é😀-]{0,12}$/)
const value = fc.oneof(
  awkwardString,
  fc.constantFrom('', ' ', '"', ',', '\n', '\r', '\r\n', '""', 'NULL'),
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.date({ noInvalidDate: true }),
  fc.dictionary(fc.constantFrom('k', 'q"', 'x,y'), awkwardString, { maxKeys: 2 }),
)

t.test('encodeCsvBatch writes what csv-stringify writes with the same options, byte for byte', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.record({ a: value, b: value, c: value, d: value }, { requiredKeys: [] }), { maxLength: 8 }), (records) => {
      const got = encodeCsvBatch(records, COLUMNS)
      const want = csvStringify(records, COLUMNS)
      if (got !== want) t.equal(got, want)
      return got === want
    }),
    { numRuns: 2000 },
  )
  t.pass('2,000 random batches encoded alike')
})

t.test('…and on the generator’s log records', async (t) => {
  const gen = await generateLogs({ outDir: t.testdir(), days: 1, sizeBytes: 300_000 })
  const out = coreParse(readFileSync(gen.files[0]!), 'logs/careplus-2025-07-01.log')
  t.equal(out.rows.length, gen.events)
  t.equal(encodeCsvBatch(out.rows, LOG_COLUMNS), csvStringify(out.rows, LOG_COLUMNS))
})

t.test('a lone \\r is quoted, so a reader that ends records at \\r cannot split the row', async (t) => {
  t.equal(encodeCsvBatch([{ a: 'x\ry', b: 'x\r\ny', c: 'plain' }], ['a', 'b', 'c']), '"x\ry","x\r\ny",plain\n')
})

t.test('csvHeader writes the header row csv-stringify wrote for every staged table', async (t) => {
  for (const columns of [LOG_COLUMNS, REJECT_COLUMNS, TICKET_CSV_COLUMNS]) {
    t.equal(csvHeader(columns), stringify([columns as readonly string[] as string[]], { record_delimiter: 'unix' }))
  }
})
