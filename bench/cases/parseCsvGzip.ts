/**
 * `parse-csv-gzip`: parser → CSV → gzip at the stage's default level, with the
 * stage writer's batching and gzip stream (CSV gathered into writes of
 * `StageWriter.BATCH_BYTES` before zlib, which compresses on libuv's thread
 * pool while the main thread parses and encodes).
 */
import type { Duplex, Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { constants as zlibConstants } from 'node:zlib'
import { createBlockParserStream, type BlockParserStream } from '../../parsers/blockParserStream.js'
import { createStageGzip, StageWriter } from '../../sinks/stageWriter.js'
import { DiscardSink, openInput, sourceKey, stopwatch, type BenchCase, type BenchInput, type CaseContext, type Measurement } from '../harness.js'
import { StageCsvEncoder } from './parseCsv.js'

/** The measured chain, without its sink: input → parser → CSV text → gzip. */
export function parseCsvGzipChain(input: BenchInput, level: number): { parser: BlockParserStream; streams: [Readable, ...Duplex[]] } {
  const parser = createBlockParserStream({ sourceFile: sourceKey(input) })
  return { parser, streams: [openInput(input.file), parser, new StageCsvEncoder(StageWriter.BATCH_BYTES), createStageGzip(level)] }
}

export async function runParseCsvGzip({ input }: CaseContext, level: number): Promise<Measurement> {
  const elapsed = stopwatch()
  const { parser, streams } = parseCsvGzipChain(input, level)
  await pipeline([...streams, new DiscardSink()])
  return { bytes: parser.stats.bytes, events: parser.stats.blocks, seconds: elapsed() }
}

const parseCsvGzip: BenchCase = {
  // StageWriter's default, like the ingest's.
  run: (ctx) => runParseCsvGzip(ctx, zlibConstants.Z_DEFAULT_COMPRESSION),
}
export default parseCsvGzip
