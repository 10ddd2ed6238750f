import { readFileSync } from 'node:fs'
import t from 'tap'
import { BlockParser } from '../../parsers/blockParser.js'
import { LOG_COLUMNS } from '../../parsers/logRecord.js'
import { encodeCsvBatch } from '../../sinks/csvEncoding.js'
import { LogCsvEncoder } from '../../sinks/logCsvEncoder.js'
import { logCsvKernel } from '../../sinks/logCsvKernel.js'
import { assembleKernel, KERNEL_MODULE_TS, KERNEL_WAT, kernelModuleSource } from '../../sinks/logCsvKernelBuild.js'
import { generateLogs } from '../../src/generate/logGenerator.js'

t.test('the committed module is what logCsvKernel.wat assembles to (run `npm run build:kernel` after editing it)', async (t) => {
  const bytes = await assembleKernel(readFileSync(KERNEL_WAT, 'utf8'))
  t.equal(readFileSync(KERNEL_MODULE_TS, 'utf8'), kernelModuleSource(bytes))
})

t.test('a batch holding megabytes of blocks goes through the kernel in windows, its memory staying small', async (t) => {
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
  // A 1 MiB window: its spans, input and CSV, with slack. The batch is six times that.
  const memory = logCsvKernel().memoryBytes
  t.ok(memory <= 4 * 1024 * 1024, `kernel memory ${memory} bytes after encoding ${got.length} bytes of CSV`)
})
