import { readFileSync } from 'node:fs'
import t from 'tap'
import { BlockParser } from '../../parsers/blockParser.js'
import { LOG_COLUMNS } from '../../parsers/logRecord.js'
import { encodeCsvBatch } from '../../sinks/csvEncoding.js'
import { LogCsvEncoder } from '../../sinks/logCsvEncoder.js'
import { logCsvKernel, MEMORY_BYTES } from '../../sinks/logCsvKernel.js'
import { assembleKernel, KERNEL_MODULE_TS, KERNEL_WAT, kernelModuleSource } from '../../sinks/logCsvKernelBuild.js'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { logBlock } from '../support/logBlock.js'

t.test('the committed module is what logCsvKernel.wat assembles to (run `npm run build:kernel` after editing it)', async (t) => {
  const bytes = await assembleKernel(readFileSync(KERNEL_WAT, 'utf8'))
  t.equal(readFileSync(KERNEL_MODULE_TS, 'utf8'), kernelModuleSource(bytes))
})

t.test('a batch holding megabytes of blocks goes through the kernel in windows, in the memory it started with', async (t) => {
  const gen = await generateLogs({ outDir: t.testdir(), days: 1, sizeBytes: 6_000_000 })
  const input = readFileSync(gen.files[0]!)
  const parser = new BlockParser({ sourceFile: 'logs/careplus-2025-07-01.log' })
  // A first push ends inside a block, so the big batch starts with that block's copy (a run of its own)
  // before the rows of its own chunk: two runs, over several windows.
  const first = parser.newBatch(1000)
  parser.push(input.subarray(0, 1000), first)
  const batch = parser.newBatch(input.length)
  parser.push(input.subarray(1000), batch)
  parser.end(batch)
  t.equal(first.rowCount + batch.rowCount, gen.events)
  t.equal(batch.runCount, 2, 'the carried block, then the chunk')
  t.ok(batch.printRows.length > 0, `${batch.printRows.length} rows with numbers the encoder prints`)
  t.ok(batch.blockBytes > 5 * 1024 * 1024, `${batch.blockBytes} bytes of blocks in the batch`)
  const encoder = new LogCsvEncoder()
  const got = Buffer.concat([encoder.encode(first), encoder.encode(batch)])
  t.ok(got.equals(Buffer.from(encodeCsvBatch([...first.rows, ...batch.rows], LOG_COLUMNS))), 'byte for byte the CSV of the records')
  // The batch needs several times the memory; halved into windows that fit it, it never grew (growing
  // detaches its ArrayBuffer, which costs the thread's typed-array code its fast path: logCsvKernel.ts).
  t.equal(logCsvKernel().memoryBytes, MEMORY_BYTES, `kernel memory after encoding ${got.length} bytes of CSV`)
})

t.test('rejected blocks between the rows count towards a window: a batch of short rows and long rejects stays in the memory', async (t) => {
  // The rows' blocks hold well under 1 MiB, but the input from the first to the last (copied whole) is ~13 MB.
  const pairs = 3000
  const reject = logBlock({ ts: '2025-13-01 05:01:00', message: `"${'r'.repeat(4000)}"` })
  const input = Buffer.from(Array.from({ length: pairs }, (_, i) => logBlock({ ticket: `TCK${i}`, message: '"ok"' }) + reject).join(''))
  const parser = new BlockParser({ sourceFile: 'logs/mixed.log' })
  const batch = parser.newBatch(input.length)
  parser.push(input, batch)
  parser.end(batch)
  t.equal(batch.rowCount, pairs)
  t.equal(batch.rejects.length, pairs)
  t.ok(batch.blockBytes < 1024 * 1024, `${batch.blockBytes} bytes of accepted blocks`)
  const got = new LogCsvEncoder().encode(batch)
  t.ok(got.equals(Buffer.from(encodeCsvBatch(batch.rows, LOG_COLUMNS))), 'byte for byte the CSV of the records')
  t.equal(logCsvKernel().memoryBytes, MEMORY_BYTES, 'the memory did not grow')
})

t.test('a block bigger than a window grows the memory, and its row is still byte for byte the CSV', async (t) => {
  const big = 'x, "quoted" '.repeat(Math.ceil(MEMORY_BYTES / 12))
  const input = Buffer.from(logBlock({ message: '"small"' }) + logBlock({ message: `"${big}"` }) + logBlock({ message: '"after"' }))
  const parser = new BlockParser({ sourceFile: 'logs/big.log', maxBlockBytes: 2 * MEMORY_BYTES })
  const batch = parser.newBatch(input.length)
  for (let i = 0; i < input.length; i += 65536) parser.push(input.subarray(i, i + 65536), batch)
  parser.end(batch)
  t.same(batch.rejects, [])
  t.equal(batch.rowCount, 3)
  const got = new LogCsvEncoder().encode(batch)
  t.ok(got.equals(Buffer.from(encodeCsvBatch(batch.rows, LOG_COLUMNS))), 'byte for byte the CSV of the records')
  t.ok(logCsvKernel().memoryBytes > MEMORY_BYTES, `grown to ${logCsvKernel().memoryBytes} bytes for a ${big.length}-byte message`)
})
