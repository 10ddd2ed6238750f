/**
 * `Transform` adapter around the pure `BlockParser`: bytes on the writable
 * side, objectMode `LogBatch`es on the readable side (at most one per input
 * chunk plus one at flush, and only when non-empty). Bad input never errors
 * the stream; it becomes rejects in the batches.
 *
 * Each chunk is parsed on the next turn of the event loop (`setImmediate`),
 * not inside `write()`: the source sees its write accepted at once and starts
 * its next read (a file read, a gunzip step) while this chunk is parsed,
 * instead of the two taking turns. That is why `_write` is implemented here
 * rather than `_transform`: `Transform`'s own `_write` decides whether the
 * readable side is full from a length taken before an asynchronous transform,
 * which lets it overfill under a slow consumer. Here a write is acknowledged
 * only once its batch fits under the readable `highWaterMark` (else when the
 * consumer next reads), so both sides stay bounded: the writable side by
 * `writableHighWaterMark` (512 KiB by default: room for one more chunk while
 * one is parsed), the readable side by `highWaterMark` batches.
 */
import { Transform, type TransformCallback } from 'node:stream'
import { BlockParser, type BlockParserOptions, type BlockParserStats } from './blockParser.js'
import type { LogBatch } from './logBatch.js'

/** Room for one more chunk (fs streams read 64 KiB, the CLI 256 KiB) while one is being parsed. */
export const DEFAULT_WRITABLE_HIGH_WATER_MARK = 512 * 1024

export type BlockParserStreamOptions = BlockParserOptions & {
  /** Readable-side buffer, in batches (default 16). */
  highWaterMark?: number
  /** Writable-side buffer, in bytes (default 512 KiB). */
  writableHighWaterMark?: number
}

export type BlockParserStream = Transform & { readonly stats: BlockParserStats }

type WriteCallback = (error?: Error | null) => void

class BlockParserTransform extends Transform {
  private readonly parser: BlockParser
  /** A parsed chunk's write, acknowledged when the consumer makes room. */
  private pendingWrite: WriteCallback | null = null

  constructor(opts: BlockParserStreamOptions) {
    super({
      readableObjectMode: true,
      readableHighWaterMark: opts.highWaterMark ?? 16,
      writableHighWaterMark: opts.writableHighWaterMark ?? DEFAULT_WRITABLE_HIGH_WATER_MARK,
    })
    this.parser = new BlockParser(opts)
  }

  get stats(): BlockParserStats {
    return this.parser.stats
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    setImmediate(() => this.parseChunk(chunk, callback))
  }

  private parseChunk(chunk: Buffer, callback: WriteCallback): void {
    if (this.destroyed) return
    const batch = this.parser.newBatch(chunk.length)
    try {
      this.parser.push(chunk, batch)
    } catch (err) {
      callback(err as Error)
      return
    }
    if (batch.rowCount + batch.rejects.length > 0 && !this.push(batch)) this.pendingWrite = callback
    else callback()
  }

  override _read(): void {
    const callback = this.pendingWrite
    if (callback === null) return
    this.pendingWrite = null
    callback()
  }

  override _flush(callback: TransformCallback): void {
    const batch: LogBatch = this.parser.newBatch()
    try {
      this.parser.end(batch)
    } catch (err) {
      callback(err as Error)
      return
    }
    if (batch.rowCount + batch.rejects.length > 0) callback(null, batch)
    else callback()
  }
}

export function createBlockParserStream(opts: BlockParserStreamOptions): BlockParserStream {
  return new BlockParserTransform(opts)
}
