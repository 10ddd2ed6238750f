/**
 * The stage's CSV for parsed log records, written from the parser's byte
 * spans (`LogBatch`) by a WebAssembly kernel (`logCsvKernel.ts`): no JS
 * string is built per field. Byte for byte what
 * `encodeCsvBatch(batch.rows, LOG_COLUMNS)` writes (the dialect is in
 * csvEncoding.ts; test/sinks/logCsvEncoder.test.ts holds the two together):
 *  - strings: the block is valid UTF-8 (the parser checked it), so its bytes
 *    are the value's UTF-8 encoding; quoted, `"` doubled, when they hold
 *    `"`, `,`, `\n` or `\r`; an empty value is `""`;
 *  - numbers: their bytes when the parser flagged them verbatim (what
 *    `'' + value` prints), else `'' + value` (leading zeros, `-0`, 16+ digits),
 *    written beside the input for the kernel to copy like any other span;
 *  - `_source_file`: encoded once per source; `_source_line`: its digits.
 *
 * Rows go to the kernel in windows that fit its memory as made
 * (MEMORY_BYTES): a batch that needs more is halved, and halved again, so
 * the memory grows only for a single row that needs more alone (a block of
 * megabytes). Per window, its memory holds:
 *
 *   [_source_file field + ','][spans, 30 int32 a row][line numbers, f64]
 *   [numbers printed by JS][input bytes, one region per source buffer][CSV]
 *
 * each region followed by 16 bytes of slack for the kernel's 16-byte loads
 * and stores.
 */
import { BLOCK_END, BLOCK_START, ROW_STRIDE, SPAN_COUNT, Span, VERBATIM_CPU, VERBATIM_RESPONSE_TIME, type LogBatch } from '../parsers/logBatch.js'
import { csvField } from './csvEncoding.js'
import { logCsvKernel, MEMORY_BYTES, type LogCsvKernel } from './logCsvKernel.js'

/** Bytes per row beyond twice its block: 14 quote pairs, 16 delimiters, two printed numbers (11 + 24), a line number (16). */
const ROW_OVERHEAD_BYTES = 28 + 16 + 35 + 16
/** What the kernel may read or write past a region's end. */
const SLACK = 16
/** Room for one row's printed numbers: an int32 (11) and a double (24). */
const PRINTED_BYTES = 11 + 24

// The kernel reads 14 span pairs in a 30-int32 row (logCsvKernel.wat's encodeRows).
if (SPAN_COUNT !== 14 || ROW_STRIDE !== 30) throw new Error('logCsvKernel.wat assumes 14 spans in rows of 30 int32s')

function align16(n: number): number {
  return (n + 15) & ~15
}

/** The bytes of rows [r0, r1)'s blocks. */
function blockBytesOf(batch: LogBatch, r0: number, r1: number): number {
  let bytes = 0
  for (let r = r0; r < r1; r++) bytes += batch.spans[r * ROW_STRIDE + BLOCK_END]! - batch.spans[r * ROW_STRIDE + BLOCK_START]!
  return bytes
}

export class LogCsvEncoder {
  private sourceFile: string | undefined
  /** `_source_file` as a CSV field, with the delimiter after it. */
  private sourceFileBytes: Buffer = Buffer.alloc(0)
  /** Per window: the source buffers' runs of rows, as (first row, last row + 1, delta) triples, reused. */
  private runs: number[] = []

  /** An upper bound of the bytes `encodeInto` writes for `batch`. */
  maxBytes(batch: LogBatch): number {
    this.useSourceFile(batch.sourceFile)
    return 2 * batch.blockBytes + batch.rowCount * (ROW_OVERHEAD_BYTES + this.sourceFileBytes.length)
  }

  /** Writes the CSV rows of `batch` into `out` from `offset` (room for `maxBytes(batch)`); returns where they end. */
  encodeInto(batch: LogBatch, out: Buffer, offset: number): number {
    const need = this.maxBytes(batch)
    if (out.length - offset < need) throw new RangeError(`LogCsvEncoder: ${need} bytes needed from offset ${offset}, the buffer holds ${out.length}`)
    return this.encodeWindow(logCsvKernel(), batch, 0, batch.rowCount, batch.blockBytes, out, offset)
  }

  /** The CSV of `batch` in a Buffer of its own. */
  encode(batch: LogBatch): Buffer {
    const out = Buffer.allocUnsafe(this.maxBytes(batch))
    return out.subarray(0, this.encodeInto(batch, out, 0))
  }

  /** Rows [r0, r1) of `batch`, whose blocks hold `blockBytes`, through the kernel into `out` at `o`. */
  private encodeWindow(kernel: LogCsvKernel, batch: LogBatch, r0: number, r1: number, blockBytes: number, out: Buffer, o: number): number {
    const spans = batch.spans
    const n = r1 - r0
    const sf = this.sourceFileBytes

    // The window's part of each run of rows sharing a buffer: first row, end row, and (below) its delta.
    const runs = this.runs
    runs.length = 0
    let inputBytes = 0
    for (let k = 0; k < batch.runCount; k++) {
      const first = Math.max(r0, batch.runStart(k))
      const end = Math.min(r1, k + 1 < batch.runCount ? batch.runStart(k + 1) : batch.rowCount)
      if (first >= end) continue
      runs.push(first, end, k)
      inputBytes += spans[(end - 1) * ROW_STRIDE + BLOCK_END]! - spans[first * ROW_STRIDE + BLOCK_START]! + SLACK
    }
    const printRows = batch.printRows
    let p0 = 0
    while (p0 < printRows.length && printRows[p0]! < r0) p0++
    let p1 = p0
    while (p1 < printRows.length && printRows[p1]! < r1) p1++

    const spansAt = align16(sf.length + SLACK)
    const linesAt = spansAt + n * ROW_STRIDE * 4
    const printedAt = linesAt + n * 8
    const inputAt = align16(printedAt + (p1 - p0) * PRINTED_BYTES + SLACK)
    const outAt = align16(inputAt + inputBytes)
    const outBytes = 2 * blockBytes + n * (ROW_OVERHEAD_BYTES + sf.length)
    const need = outAt + outBytes + SLACK
    if (need > MEMORY_BYTES && n > 1) {
      // Rows [r0, mid), then [mid, r1): each half computes its own layout (this.runs is rebuilt).
      const mid = r0 + (n >> 1)
      const o1 = this.encodeWindow(kernel, batch, r0, mid, blockBytesOf(batch, r0, mid), out, o)
      return this.encodeWindow(kernel, batch, mid, r1, blockBytesOf(batch, mid, r1), out, o1)
    }
    kernel.reserve(need)

    const mem = kernel.bytes
    const i32 = kernel.i32
    sf.copy(mem, 0)
    i32.set(spans.subarray(r0 * ROW_STRIDE, r1 * ROW_STRIDE), spansAt >> 2)
    kernel.f64.set(batch.sourceLine.subarray(r0, r1), linesAt >> 3)

    let at = inputAt
    for (let k = 0; k < runs.length; k += 3) {
      const first = runs[k]!
      const from = spans[first * ROW_STRIDE + BLOCK_START]!
      const to = spans[(runs[k + 1]! - 1) * ROW_STRIDE + BLOCK_END]!
      batch.runBuffer(runs[k + 2]!).copy(mem, at, from, to)
      // What turns the run's offsets in its buffer into offsets in the memory.
      runs[k + 2] = at - from
      at += to - from + SLACK
    }

    // A number the parser could not take verbatim is printed beside the input, and its span pointed at the print (less its run's delta).
    let p = printedAt
    let k = 0
    for (let i = p0; i < p1; i++) {
      const r = printRows[i]!
      while (r >= runs[k + 1]!) k += 3
      const delta = runs[k + 2]!
      const f = batch.flags[r]!
      const row = (spansAt >> 2) + (r - r0) * ROW_STRIDE
      if ((f & VERBATIM_RESPONSE_TIME) === 0) {
        i32[row + 2 * Span.response_time_ms] = p - delta
        p += mem.write('' + batch.responseTimeMs[r]!, p, 'latin1')
        i32[row + 2 * Span.response_time_ms + 1] = p - delta
      }
      if ((f & VERBATIM_CPU) === 0) {
        i32[row + 2 * Span.cpu_percent] = p - delta
        p += mem.write('' + batch.cpuPercent[r]!, p, 'latin1')
        i32[row + 2 * Span.cpu_percent + 1] = p - delta
      }
    }

    let end = outAt
    for (let k = 0; k < runs.length; k += 3) {
      end = kernel.encodeRows(spansAt, linesAt, runs[k]! - r0, runs[k + 1]! - r0, runs[k + 2]!, 0, sf.length, end)
    }
    return o + mem.copy(out, o, outAt, end)
  }

  private useSourceFile(name: string): void {
    if (name === this.sourceFile) return
    this.sourceFile = name
    this.sourceFileBytes = Buffer.from(csvField(name) + ',')
  }
}
