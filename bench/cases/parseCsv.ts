/** `parse-csv`: the parser, then the stage's CSV encoding (`encodeCsvBatch`, one call per batch). */
import { Transform, type Duplex, type Readable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createBlockParserStream, type BlockParserStream } from '../../parsers/blockParserStream.js'
import { LOG_COLUMNS, REJECT_COLUMNS, type ParseBatch } from '../../parsers/logRecord.js'
import { csvHeader, encodeCsvBatch } from '../../sinks/csvEncoding.js'
import { DiscardSink, openInput, sourceKey, stopwatch, type BenchCase, type BenchInput } from '../harness.js'

/**
 * Batches → the rows file's CSV text (header first), encoded as
 * `LogStageSink` does. With `minChunkChars`, text is gathered into chunks of
 * at least that many characters, as `StageWriter` gathers it before zlib.
 * Rejects are encoded too (the stage writes them to a file of their own) and
 * only counted: the generator's data has none.
 */
export class StageCsvEncoder extends Transform {
  rejectChars = 0
  private pending: string[] = []
  private pendingChars = 0

  constructor(private readonly minChunkChars = 0) {
    super({ writableObjectMode: true, writableHighWaterMark: 4 })
    this.pending.push(csvHeader(LOG_COLUMNS))
    this.pendingChars = this.pending[0]!.length
  }

  override _transform(batch: ParseBatch, _enc: BufferEncoding, cb: TransformCallback): void {
    if (batch.rejects.length > 0) this.rejectChars += encodeCsvBatch(batch.rejects, REJECT_COLUMNS).length
    if (batch.rows.length > 0) {
      const csv = encodeCsvBatch(batch.rows, LOG_COLUMNS)
      this.pending.push(csv)
      this.pendingChars += csv.length
    }
    if (this.pendingChars >= this.minChunkChars) this.pushPending()
    cb()
  }

  override _flush(cb: TransformCallback): void {
    this.pushPending()
    cb()
  }

  private pushPending(): void {
    if (this.pendingChars === 0) return
    this.push(this.pending.length === 1 ? this.pending[0] : this.pending.join(''))
    this.pending = []
    this.pendingChars = 0
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
