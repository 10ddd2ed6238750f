/**
 * `csv-encode`: the stage's CSV encoder alone (`LogCsvEncoder`, its
 * WebAssembly kernel and its copies in and out), timed over batches parsed
 * beforehand from the whole input, read into memory in the CLI's 256 KiB
 * chunks. What `parse-csv` costs beyond `parse`, less the chain's effects.
 */
import { readFile } from 'node:fs/promises'
import { BlockParser } from '../../parsers/blockParser.js'
import type { LogBatch } from '../../parsers/logBatch.js'
import { LogCsvEncoder } from '../../sinks/logCsvEncoder.js'
import { READ_CHUNK_BYTES, sourceKey, stopwatch, type BenchCase } from '../harness.js'

const csvEncode: BenchCase = {
  async run({ input }) {
    const bytes = await readFile(input.file)
    const parser = new BlockParser({ sourceFile: sourceKey(input) })
    const batches: LogBatch[] = []
    for (let i = 0; i < bytes.length; i += READ_CHUNK_BYTES) {
      const batch = parser.newBatch(READ_CHUNK_BYTES)
      parser.push(bytes.subarray(i, i + READ_CHUNK_BYTES), batch)
      batches.push(batch)
    }
    const last = parser.newBatch()
    parser.end(last)
    batches.push(last)

    const encoder = new LogCsvEncoder()
    // One output buffer, reused: what is measured is the encoding, not allocation.
    let out = Buffer.allocUnsafe(0)
    let written = 0
    const elapsed = stopwatch()
    for (const batch of batches) {
      const need = encoder.maxBytes(batch)
      if (out.length < need) out = Buffer.allocUnsafe(2 * need)
      written += encoder.encodeInto(batch, out, 0)
    }
    const seconds = elapsed()
    if (written === 0) throw new Error('csv-encode: no CSV written')
    return { bytes: parser.stats.bytes, events: parser.stats.blocks, seconds }
  },
}
export default csvEncode
