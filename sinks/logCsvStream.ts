/**
 * The parse → CSV chain as streams, for whatever wants the stage's CSV of a
 * log as bytes (`careplus parse --format csv`, the bench): the block parser
 * and a Transform that turns its `LogBatch`es into CSV Buffers with
 * `LogCsvEncoder`, the encoder `LogStageSink` uses. Rejects never enter the
 * CSV; each batch's go to `onRejects`.
 *
 *   const { parser, streams } = createLogCsvChain({ sourceFile, onRejects })
 *   await pipeline(source, ...streams, destination, { signal })
 */
import { Transform, type TransformCallback } from 'node:stream'
import type { LogBatch } from '../parsers/logBatch.js'
import { createBlockParserStream, type BlockParserStream, type BlockParserStreamOptions } from '../parsers/blockParserStream.js'
import { LOG_COLUMNS, type LogReject } from '../parsers/logRecord.js'
import { csvHeader } from './csvEncoding.js'
import { LogCsvEncoder } from './logCsvEncoder.js'

export interface LogCsvStreamOptions {
  /** Start with the header row (default true). */
  header?: boolean
  /** Receives each batch's rejects, in input order. */
  onRejects: (rejects: LogReject[]) => void
}

/**
 * Output is carved from slabs of this size, one region per batch, the way
 * Node pools small Buffers: no allocation per batch, and a slab is freed once
 * every chunk cut from it is.
 */
const SLAB_BYTES = 1024 * 1024

class LogCsvTransform extends Transform {
  private readonly encoder = new LogCsvEncoder()
  private slab: Buffer = Buffer.alloc(0)
  private used = 0
  private headerDone: boolean

  constructor(private readonly opts: LogCsvStreamOptions) {
    super({ writableObjectMode: true, writableHighWaterMark: 4 })
    this.headerDone = opts.header === false
  }

  override _transform(batch: LogBatch, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.writeHeader()
      if (batch.rejects.length > 0) this.opts.onRejects(batch.rejects)
      if (batch.rowCount === 0) return cb()
      const need = this.encoder.maxBytes(batch)
      if (this.slab.length - this.used < need) {
        this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, need))
        this.used = 0
      }
      const start = this.used
      const end = this.encoder.encodeInto(batch, this.slab, start)
      // The next region starts on an 8-byte boundary.
      this.used = (end + 7) & ~7
      cb(null, this.slab.subarray(start, end))
    } catch (err) {
      cb(err as Error)
    }
  }

  override _flush(cb: TransformCallback): void {
    this.writeHeader()
    cb()
  }

  private writeHeader(): void {
    if (this.headerDone) return
    this.headerDone = true
    this.push(Buffer.from(csvHeader(LOG_COLUMNS)))
  }
}

/** `LogBatch`es in, the stage's CSV of their records out (header first unless `header: false`). */
export function createLogCsvStream(opts: LogCsvStreamOptions): Transform {
  return new LogCsvTransform(opts)
}

/** Log bytes in, CSV bytes out: the parser and the encoder, to put between a source and a destination. */
export function createLogCsvChain(opts: BlockParserStreamOptions & LogCsvStreamOptions): { parser: BlockParserStream; streams: [BlockParserStream, Transform] } {
  const parser = createBlockParserStream(opts)
  return { parser, streams: [parser, createLogCsvStream(opts)] }
}
