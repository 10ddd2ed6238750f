/** `parse`: the block parser (bytes → records), the stage every log ingest runs through. */
import { pipeline } from 'node:stream/promises'
import { createBlockParserStream } from '../../parsers/blockParserStream.js'
import { BatchSink, openInput, sourceKey, stopwatch, type BenchCase } from '../harness.js'

const parse: BenchCase = {
  async run({ input }) {
    const elapsed = stopwatch()
    const parser = createBlockParserStream({ sourceFile: sourceKey(input) })
    await pipeline(openInput(input.file), parser, new BatchSink())
    return { bytes: parser.stats.bytes, events: parser.stats.blocks, seconds: elapsed() }
  },
}
export default parse
