/** `parse-csv`: the parser, then the stage's CSV encoding (`encodeCsvBatch`, one call per batch). */
import { Transform, type Duplex, type Readable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createBlockParserStream, type BlockParserStream } from '../../parsers/blockParserStream.js'
import { LOG_COLUMNS, REJECT_COLUMNS, type ParseBatch } from '../../parsers/logRecord.js'
import { csvHeader, encodeCsvBatch } from '../../sinks/csvEncoding.js'
import { DiscardSink, openInput, sourceKey, stopwatch, type BenchCase, type BenchInput } from '../harness.js'

/**
 * Batches → the rows file's CSV text (header first), one `encodeCsvBatch`
 * call per batch as the ingest's `LogObjectSink` makes. Rejects are encoded too, as the
 * ingest encodes them for a file of their own, and dropped: the generator's
 * data has none.
 */
export class StageCsvEncoder extends Transform {
  constructor() {
    super({ writableObjectMode: true, writableHighWaterMark: 4 })
    this.push(csvHeader(LOG_COLUMNS))
  }

  override _transform(batch: ParseBatch, _enc: BufferEncoding, cb: TransformCallback): void {
    if (batch.rejects.length > 0) encodeCsvBatch(batch.rejects, REJECT_COLUMNS)
    cb(null, batch.rows.length > 0 ? encodeCsvBatch(batch.rows, LOG_COLUMNS) : undefined)
  }
}

/** The measured chain, without its sink: input → parser → CSV text. */
export function parseCsvChain(input: BenchInput): { parser: BlockParserStream; streams: [Readable, ...Duplex[]] } {
  const parser = createBlockParserStream({ sourceFile: sourceKey(input) })
  return { parser, streams: [openInput(input.file), parser, new StageCsvEncoder()] }
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
