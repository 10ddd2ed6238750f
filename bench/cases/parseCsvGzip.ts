/**
 * `parse-csv-gzip`: parser → CSV → gzip at the stage's default level through
 * the ingest's own sink (a `LogBatchStage` and its `StageWriter`s: the same
 * batching, gzip stream and backpressure), with the compressed files
 * discarded instead of uploaded.
 */
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { constants as zlibConstants } from 'node:zlib'
import { createBlockParserStream, type BlockParserStream } from '../../parsers/blockParserStream.js'
import { LogBatchStage, type LogObjectSink, type LogStageResult } from '../../sinks/logStageSink.js'
import type { StageUpload } from '../../sinks/stageWriter.js'
import { sourceKey, stopwatch, openInput, type BenchCase, type BenchInput, type CaseContext, type Measurement } from '../harness.js'

/** Reads a staged file's body to its end and keeps nothing. */
const discardUpload: StageUpload = async (_key, body) => {
  for await (const _chunk of body);
  return { etag: '' }
}

/** The measured chain: input → parser → the ingest's stage sink, whose files go to `upload`; `finish` closes the batch's files. */
export function parseCsvGzipChain(
  input: BenchInput,
  level: number,
  upload: StageUpload = discardUpload,
): { parser: BlockParserStream; streams: [Readable, BlockParserStream, LogObjectSink]; finish: () => Promise<LogStageResult> } {
  const parser = createBlockParserStream({ sourceFile: sourceKey(input) })
  // One file per run, as the ingest stages a batch under the default STAGE_FILE_MAX_BYTES.
  const stage = new LogBatchStage({ store: upload, folders: { rows: 'bench/rows/', rejects: 'bench/rejects/' }, maxFileBytes: Number.MAX_SAFE_INTEGER, gzipLevel: level })
  return { parser, streams: [openInput(input.file), parser, stage.objectSink()], finish: () => stage.close() }
}

export async function runParseCsvGzip({ input }: CaseContext, level: number): Promise<Measurement> {
  const elapsed = stopwatch()
  const { parser, streams, finish } = parseCsvGzipChain(input, level)
  await pipeline(streams)
  await finish()
  return { bytes: parser.stats.bytes, events: parser.stats.blocks, seconds: elapsed() }
}

const parseCsvGzip: BenchCase = {
  // StageWriter's default, like the ingest's.
  run: (ctx) => runParseCsvGzip(ctx, zlibConstants.Z_DEFAULT_COMPRESSION),
}
export default parseCsvGzip
