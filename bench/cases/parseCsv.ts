/** `parse-csv`: the parser, then the stage's CSV encoding from the parser's byte spans (`createLogCsvChain`). */
import type { Duplex, Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { BlockParserStream } from '../../parsers/blockParserStream.js'
import { REJECT_COLUMNS } from '../../parsers/logRecord.js'
import { encodeCsvBatch } from '../../sinks/csvEncoding.js'
import { createLogCsvChain } from '../../sinks/logCsvStream.js'
import { DiscardSink, openInput, sourceKey, stopwatch, type BenchCase, type BenchInput } from '../harness.js'

/**
 * The measured chain, without its sink: input → parser → CSV bytes (header
 * first). Rejects are encoded too, as the ingest encodes them for a file of
 * their own, and dropped: the generator's data has none.
 */
export function parseCsvChain(input: BenchInput): { parser: BlockParserStream; streams: [Readable, ...Duplex[]] } {
  const { parser, streams } = createLogCsvChain({ sourceFile: sourceKey(input), onRejects: (rejects) => void encodeCsvBatch(rejects, REJECT_COLUMNS) })
  return { parser, streams: [openInput(input.file), ...streams] }
}

const parseCsv: BenchCase = {
  async run({ input }) {
    const elapsed = stopwatch()
    const { parser, streams } = parseCsvChain(input)
    await pipeline([...streams, new DiscardSink()])
    return { bytes: parser.stats.bytes, events: parser.stats.blocks, seconds: elapsed() }
  },
}
export default parseCsv
