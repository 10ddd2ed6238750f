/**
 * `parse-csv-gzip`: parser → CSV → gzip at the stage's default level through
 * the ingest's own sink (a `LogBatchStage` and its `StageWriter`s: the same
 * batching, gzip stream and backpressure), with the compressed files
 * discarded instead of uploaded. The variants (`parse-csv-gzip-3`, `-1`, `-2files`,
 * `-1mb-chunk`) change one stage setting each, for the README's trade-off.
 */
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { constants as zlibConstants } from 'node:zlib'
import { createBlockParserStream, type BlockParserStream } from '../../parsers/blockParserStream.js'
import { LogBatchStage, type LogObjectSink, type LogStageResult } from '../../sinks/logStageSink.js'
import type { StageUpload } from '../../sinks/stageWriter.js'
import { sourceKey, stopwatch, openInput, type BenchCase, type BenchInput, type CaseContext, type Measurement } from '../harness.js'

/** The stage settings a variant changes. */
export interface GzipSettings {
  level: number
  /** zlib's output buffer (the stage's default: GZIP_CHUNK_BYTES). */
  chunkBytes?: number
  /** Staged files compressing at once for the object (default 1). */
  concurrentFiles?: number
}

/** Reads a staged file's body to its end and keeps nothing. */
const discardUpload: StageUpload = async (_key, body) => {
  for await (const _chunk of body);
  return { etag: '' }
}

/** The measured chain: input → parser → the ingest's stage sink, whose files go to `upload`; `finish` closes the batch's files. */
export function parseCsvGzipChain(
  input: BenchInput,
  settings: GzipSettings | number,
  upload: StageUpload = discardUpload,
): { parser: BlockParserStream; streams: [Readable, BlockParserStream, LogObjectSink]; finish: () => Promise<LogStageResult> } {
  const s = typeof settings === 'number' ? { level: settings } : settings
  const parser = createBlockParserStream({ sourceFile: sourceKey(input) })
  // One file per run, as the ingest stages a batch under the default STAGE_FILE_MAX_BYTES.
  const stage = new LogBatchStage({
    store: upload,
    folders: { rows: 'bench/rows/', rejects: 'bench/rejects/' },
    maxFileBytes: Number.MAX_SAFE_INTEGER,
    gzipLevel: s.level,
    gzipChunkBytes: s.chunkBytes,
    concurrentFiles: s.concurrentFiles,
  })
  return { parser, streams: [openInput(input.file), parser, stage.objectSink()], finish: () => stage.close() }
}

export async function runParseCsvGzip({ input }: CaseContext, settings: GzipSettings): Promise<Measurement> {
  const elapsed = stopwatch()
  const { parser, streams, finish } = parseCsvGzipChain(input, settings)
  await pipeline(streams)
  const staged = await finish()
  const seconds = elapsed()
  const stagedBytes = [...staged.rows.files, ...staged.rejects.files].reduce((n, f) => n + f.bytes, 0)
  return { bytes: parser.stats.bytes, events: parser.stats.blocks, seconds, staged_bytes: stagedBytes }
}

const parseCsvGzip: BenchCase = {
  // StageWriter's default, like the ingest's.
  run: (ctx) => runParseCsvGzip(ctx, { level: zlibConstants.Z_DEFAULT_COMPRESSION }),
}
export default parseCsvGzip
