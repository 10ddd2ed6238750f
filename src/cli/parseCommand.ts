/**
 * `careplus parse <file> [--format csv|jsonl] [--stats]`: a local log file
 * through the stage's own parse → CSV chain (`createLogCsvChain`, the one the
 * ingest and the bench run), to stdout. Rejects go to stderr as JSON lines.
 */
import { createReadStream } from 'node:fs'
import { Transform, type Duplex, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { createBlockParserStream, type BlockParserStream } from '../../parsers/blockParserStream.js'
import type { LogBatch } from '../../parsers/logBatch.js'
import type { LogReject } from '../../parsers/logRecord.js'
import { createLogCsvChain } from '../../sinks/logCsvStream.js'
import { maxBlockBytesSetting } from '../config.js'
import type { CommandContext } from './commandContext.js'
import { checkLocalFile, localInputError } from './localInput.js'

export interface ParseOptions {
  format: 'csv' | 'jsonl'
  stats?: boolean
}

/** Read size of the local file (the bench's READ_CHUNK_BYTES too). */
const READ_CHUNK_BYTES = 256 * 1024

function writeRejects(rejects: LogReject[]): void {
  let text = ''
  for (const r of rejects) text += JSON.stringify(r) + '\n'
  process.stderr.write(text)
}

/** `LogBatch`es in, one JSON line per record out: `--format jsonl`, not the hot path. */
class JsonLinesTransform extends Transform {
  constructor() {
    super({ writableObjectMode: true, writableHighWaterMark: 4 })
  }

  override _transform(batch: LogBatch, _enc: BufferEncoding, cb: TransformCallback): void {
    if (batch.rejects.length > 0) writeRejects(batch.rejects)
    let text = ''
    for (const r of batch.rows) text += JSON.stringify(r) + '\n'
    cb(null, text.length > 0 ? text : undefined)
  }
}

export async function parseCommand(file: string, o: ParseOptions, ctx: CommandContext): Promise<void> {
  const started = performance.now()
  // The one setting it reads, checked alone: parse starts without the settings' schema (src/config.ts).
  const maxBlockBytes = maxBlockBytesSetting()
  checkLocalFile(file, 'parse reads one .log or .log.gz file (to load a folder: careplus upload-logs <dir>, then careplus ingest-logs)')
  const parserOptions = { sourceFile: file, maxBlockBytes }
  let parser: BlockParserStream
  let streams: Duplex[]
  if (o.format === 'csv') {
    const chain = createLogCsvChain({ ...parserOptions, onRejects: writeRejects })
    parser = chain.parser
    streams = chain.streams
  } else {
    parser = createBlockParserStream(parserOptions)
    streams = [parser, new JsonLinesTransform()]
  }
  const source = createReadStream(file, { highWaterMark: READ_CHUNK_BYTES })
  try {
    if (file.endsWith('.gz')) await pipeline([source, createGunzip(), ...streams, process.stdout], { signal: ctx.signal, end: false })
    else await pipeline([source, ...streams, process.stdout], { signal: ctx.signal, end: false })
  } catch (err) {
    throw localInputError(file, err)
  }
  if (o.stats) {
    const s = parser.stats
    const secs = (performance.now() - started) / 1000
    process.stderr.write(
      `blocks ${s.blocks} = rows ${s.rows} + rejects ${s.rejects}; ${(s.bytes / 1e6).toFixed(1)} MB in ${secs.toFixed(2)} s = ${(s.bytes / 1e6 / secs).toFixed(1)} MB/s\n`,
    )
  }
}
