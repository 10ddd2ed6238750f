/**
 * What the block parser fills per input chunk: its records as spans of the
 * input bytes, and its rejects. The stage's CSV encoder (`sinks/logCsvEncoder.ts`)
 * copies the spans' bytes; `rows` builds `LogRecord`s from the same spans, for
 * tests and `--format jsonl`. A span is a `[start, end)` byte range of its
 * row's buffer: the chunk the block was parsed from or, for a block completed
 * across chunks, a copy of its bytes. Rows come in runs sharing a buffer
 * (usually one run: the chunk's; `runStart(k)`, `runBuffer(k)`), which the
 * encoder copies whole. A batch keeps those buffers alive, so a chunk must not
 * be changed after it was pushed (Node streams never reuse a chunk they emitted).
 */
import type { LogRecord, LogReject, ParseBatch } from './logRecord.js'

/**
 * The span slots of a row, in `LOG_COLUMNS` order: the 14 columns read from
 * the block. `_source_file` is the batch's, `_source_line` a number per row.
 */
export const Span = {
  timestamp: 0,
  log_level: 1,
  service: 2,
  ticket_id: 3,
  session_id: 4,
  ip: 5,
  response_time_ms: 6,
  cpu_percent: 7,
  event_type: 8,
  error: 9,
  user_agent: 10,
  message: 11,
  debug: 12,
  trace_id: 13,
} as const
export const SPAN_COUNT = 14
/** Int32s per row in `spans`: a start and an end per slot, then the block's start and end. */
export const ROW_STRIDE = 2 * SPAN_COUNT + 2
export const BLOCK_START = 2 * SPAN_COUNT
export const BLOCK_END = BLOCK_START + 1

/** Row flags: the number's bytes are exactly `'' + value` (so the encoder copies them). */
export const VERBATIM_RESPONSE_TIME = 1
export const VERBATIM_CPU = 2
export const VERBATIM_BOTH = VERBATIM_RESPONSE_TIME | VERBATIM_CPU

const MIN_CAPACITY = 16
const EMPTY = Buffer.alloc(0)

export class LogBatch implements ParseBatch {
  /** Records in this batch. */
  rowCount = 0
  readonly rejects: LogReject[] = []
  /** Per row, `ROW_STRIDE` int32s: the slots' spans, then the block's own span. */
  spans: Int32Array
  responseTimeMs: Int32Array
  cpuPercent: Float64Array
  sourceLine: Float64Array
  flags: Uint8Array
  /** Sum of the rows' block lengths (what the encoder sizes its output from). */
  blockBytes = 0
  /** Rows whose numbers are not both verbatim (the encoder prints those), in order. */
  readonly printRows: number[] = []
  /** Run k of rows sharing a buffer starts at row `runStarts[k]`, its buffer `runBuffers[k]`. */
  private readonly runStarts: number[] = []
  private readonly runBuffers: Buffer[] = []
  private records: LogRecord[] | undefined

  constructor(
    /** `_source_file` of every row. */
    readonly sourceFile: string,
    capacity = MIN_CAPACITY,
  ) {
    const n = Math.max(MIN_CAPACITY, capacity | 0)
    this.spans = new Int32Array(n * ROW_STRIDE)
    this.responseTimeMs = new Int32Array(n)
    this.cpuPercent = new Float64Array(n)
    this.sourceLine = new Float64Array(n)
    this.flags = new Uint8Array(n)
  }

  /** Runs of rows sharing a buffer. */
  get runCount(): number {
    return this.runStarts.length
  }

  /** Run `k`'s first row. */
  runStart(k: number): number {
    return this.runStarts[k]!
  }

  /** Run `k`'s buffer. */
  runBuffer(k: number): Buffer {
    return this.runBuffers[k]!
  }

  /** The records, built from the spans on first use. Not for the hot path: the stage encodes the spans. */
  get rows(): LogRecord[] {
    if (this.records === undefined || this.records.length !== this.rowCount) this.records = this.materialise()
    return this.records
  }

  /** Make room for one more row; the parser writes it at `rowCount` and then calls `commitRow`. */
  reserveRow(): void {
    if (this.rowCount < this.flags.length) return
    const n = 2 * this.flags.length
    this.spans = grow(this.spans, new Int32Array(n * ROW_STRIDE))
    this.responseTimeMs = grow(this.responseTimeMs, new Int32Array(n))
    this.cpuPercent = grow(this.cpuPercent, new Float64Array(n))
    this.sourceLine = grow(this.sourceLine, new Float64Array(n))
    this.flags = grow(this.flags, new Uint8Array(n))
  }

  /** Keep the row written at `rowCount` (its spans into `buf`, block `[start, end)`). */
  commitRow(buf: Buffer, start: number, end: number, line: number): void {
    const r = this.rowCount++
    const at = r * ROW_STRIDE
    this.spans[at + BLOCK_START] = start
    this.spans[at + BLOCK_END] = end
    this.sourceLine[r] = line
    this.blockBytes += end - start
    if ((this.flags[r]! & VERBATIM_BOTH) !== VERBATIM_BOTH) this.printRows.push(r)
    if (this.runBuffers[this.runBuffers.length - 1] !== buf) {
      this.runStarts.push(r)
      this.runBuffers.push(buf)
    }
  }

  private materialise(): LogRecord[] {
    const out: LogRecord[] = new Array<LogRecord>(this.rowCount)
    const spans = this.spans
    let k = -1
    let nextRun = 0
    let buf: Buffer = EMPTY
    for (let r = 0; r < this.rowCount; r++) {
      if (r === nextRun) {
        buf = this.runBuffers[++k]!
        nextRun = k + 1 < this.runStarts.length ? this.runStarts[k + 1]! : this.rowCount
      }
      const at = r * ROW_STRIDE
      const str = (slot: number): string => buf.toString('utf8', spans[at + 2 * slot]!, spans[at + 2 * slot + 1]!)
      out[r] = {
        timestamp: str(Span.timestamp),
        log_level: str(Span.log_level),
        service: str(Span.service),
        ticket_id: str(Span.ticket_id),
        session_id: str(Span.session_id),
        ip: str(Span.ip),
        response_time_ms: this.responseTimeMs[r]!,
        cpu_percent: this.cpuPercent[r]!,
        event_type: str(Span.event_type),
        error: str(Span.error),
        user_agent: str(Span.user_agent),
        message: str(Span.message),
        debug: str(Span.debug),
        trace_id: str(Span.trace_id),
        _source_file: this.sourceFile,
        _source_line: this.sourceLine[r]!,
      }
    }
    return out
  }
}

function grow<T extends Int32Array | Float64Array | Uint8Array>(from: T, to: T): T {
  to.set(from)
  return to
}
