/**
 * The stage's CSV for parsed log records, written from the parser's byte
 * spans (`LogBatch`) straight into an output Buffer: each value's bytes are
 * copied a word at a time while the same words are checked for a byte that
 * needs quoting, so no JS string is built per field. Byte for byte what
 * `encodeCsvBatch(batch.rows, LOG_COLUMNS)` writes (the dialect is in
 * csvEncoding.ts; test/sinks/logCsvEncoder.test.ts holds the two together):
 *  - strings: the block is valid UTF-8 (the parser checked it), so its bytes
 *    are the value's UTF-8 encoding; quoted, `"` doubled, when they hold
 *    `"`, `,`, `\n` or `\r`; an empty value is `""`;
 *  - numbers: their bytes when the parser flagged them verbatim (what
 *    `'' + value` prints), else `'' + value` (leading zeros, `-0`, 16+ digits);
 *  - `_source_file`: encoded once per source; `_source_line`: its digits.
 */
import { ROW_STRIDE, SPAN_COUNT, Span, VERBATIM_CPU, VERBATIM_RESPONSE_TIME, type LogBatch } from '../parsers/logBatch.js'
import { csvField } from './csvEncoding.js'

const COMMA = 0x2c
const QUOTE = 0x22
const LF = 0x0a
/** Bytes per row beyond twice its block: 14 quote pairs, 16 delimiters, two printed numbers (11 + 24), a line number (16). */
const ROW_OVERHEAD_BYTES = 28 + 16 + 35 + 16
/** A copy may write up to this many bytes past a field's end (they are overwritten by what follows). */
const WORD_PAD = 3

/** The high bits of the first n bytes of a little-endian word. */
const TAIL_MASK = Int32Array.of(0, 0x80, 0x8080, 0x808080)
/** 1 for the bytes a CSV field must be quoted for. */
const NEEDS_QUOTES = new Uint8Array(256)
NEEDS_QUOTES[QUOTE] = NEEDS_QUOTES[COMMA] = NEEDS_QUOTES[LF] = NEEDS_QUOTES[0x0d] = 1

/**
 * Whether any byte of the little-endian word `v` is `"`, `,` or `\r` (a
 * span lies within one line, so it holds no `\n`): high bit set per such
 * byte, possibly also above one, so only zero vs non-zero is meaningful. The
 * classic "has a zero byte" test on `v` XOR each byte repeated. A borrow only
 * runs upwards from a byte that matched, so masking out the bytes past a
 * field's end (TAIL_MASK) keeps it exact.
 */
function specialBytes(v: number): number {
  const q = v ^ 0x22222222
  const c = v ^ 0x2c2c2c2c
  const r = v ^ 0x0d0d0d0d
  return (((q - 0x01010101) & ~q) | ((c - 0x01010101) & ~c) | ((r - 0x01010101) & ~r)) & 0x80808080
}

/**
 * Non-zero when `v` may hold a byte that needs quoting: exact for ASCII
 * words, and also non-zero for any byte >= 0x80 (then `specialBytes`
 * decides). Cheaper than `specialBytes`: it skips the `& ~x` of each test,
 * which only matters for bytes >= 0x80.
 */
function maybeSpecial(v: number): number {
  return (((v ^ 0x22222222) - 0x01010101) | ((v ^ 0x2c2c2c2c) - 0x01010101) | ((v ^ 0x0d0d0d0d) - 0x01010101) | v) & 0x80808080
}

export class LogCsvEncoder {
  private sourceFile: string | undefined
  /** `_source_file` as a CSV field, with the delimiters around it. */
  private sourceFileBytes: Buffer = Buffer.alloc(0)

  /** An upper bound of the bytes `encodeInto` writes for `batch`. */
  maxBytes(batch: LogBatch): number {
    this.useSourceFile(batch.sourceFile)
    return 2 * batch.blockBytes + batch.rowCount * (ROW_OVERHEAD_BYTES + this.sourceFileBytes.length) + WORD_PAD
  }

  /** Writes the CSV rows of `batch` into `out` from `offset` (room for `maxBytes(batch)`); returns where they end. */
  encodeInto(batch: LogBatch, out: Buffer, offset: number): number {
    const need = this.maxBytes(batch)
    if (out.length - offset < need) throw new RangeError(`LogCsvEncoder: ${need} bytes needed from offset ${offset}, the buffer holds ${out.length}`)
    const outView = new DataView(out.buffer, out.byteOffset, out.byteLength)
    const spans = batch.spans
    const flags = batch.flags
    const sourceFile = this.sourceFileBytes
    const sourceFileView = new DataView(sourceFile.buffer, sourceFile.byteOffset, sourceFile.byteLength)
    const sourceFileLength = sourceFile.length - WORD_PAD
    let o = offset
    let src: Buffer | undefined
    let view: DataView = outView
    for (let r = 0; r < batch.rowCount; r++) {
      const buf = batch.buffer(r)
      if (buf !== src) {
        src = buf
        view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
      }
      const at = r * ROW_STRIDE
      // The timestamp is digits, '-', ':' and ' ' (the header pattern): never quoted.
      o = copyWords(view, buf.length, spans[at]!, spans[at + 1]!, outView, o)
      out[o++] = COMMA
      for (let k = at + 2; k < at + 2 * Span.response_time_ms; k += 2) {
        o = copyField(buf, view, spans[k]!, spans[k + 1]!, out, outView, o)
        out[o++] = COMMA
      }
      const f = flags[r]!
      const rt = at + 2 * Span.response_time_ms
      if ((f & VERBATIM_RESPONSE_TIME) !== 0) o = copyWords(view, buf.length, spans[rt]!, spans[rt + 1]!, outView, o)
      else o += out.write('' + batch.responseTimeMs[r]!, o, 'latin1')
      out[o++] = COMMA
      const cpu = at + 2 * Span.cpu_percent
      if ((f & VERBATIM_CPU) !== 0) o = copyWords(view, buf.length, spans[cpu]!, spans[cpu + 1]!, outView, o)
      else o += out.write('' + batch.cpuPercent[r]!, o, 'latin1')
      out[o++] = COMMA
      for (let k = at + 2 * Span.event_type; k < at + 2 * SPAN_COUNT; k += 2) {
        o = copyField(buf, view, spans[k]!, spans[k + 1]!, out, outView, o)
        out[o++] = COMMA
      }
      o = copyWords(sourceFileView, sourceFile.length, 0, sourceFileLength, outView, o)
      o = writeUint(out, o, batch.sourceLine[r]!)
      out[o++] = LF
    }
    return o
  }

  /** The CSV of `batch` in a Buffer of its own. */
  encode(batch: LogBatch): Buffer {
    const out = Buffer.allocUnsafe(this.maxBytes(batch))
    return out.subarray(0, this.encodeInto(batch, out, 0))
  }

  private useSourceFile(name: string): void {
    if (name === this.sourceFile) return
    this.sourceFile = name
    // Padded so that it, too, can be copied a whole word at a time.
    this.sourceFileBytes = Buffer.from(csvField(name) + ',' + '\0'.repeat(WORD_PAD))
  }
}

/**
 * Copies `src[s, e)` to `out` at `o` as a CSV field, four bytes at a time
 * while checking them for bytes that need quoting. At the first such byte,
 * what was copied moves one byte right behind an opening quote and the rest
 * is copied quoted (`"` doubled). Returns the offset after the field.
 */
function copyField(src: Buffer, view: DataView, s: number, e: number, out: Buffer, outView: DataView, o: number): number {
  if (s === e) {
    out[o] = QUOTE
    out[o + 1] = QUOTE
    return o + 2
  }
  let i = s
  let p = o
  for (; i + 4 <= e; i += 4, p += 4) {
    const v = view.getInt32(i, true)
    if (maybeSpecial(v) !== 0 && specialBytes(v) !== 0) return copyQuoted(src, view, i, e, out, outView, o, p)
    outView.setInt32(p, v, true)
  }
  if (i === e) return p
  if (i + 4 <= src.length) {
    // The last 1–3 bytes as one word, the bytes past `e` masked out of the check.
    const v = view.getInt32(i, true)
    if ((specialBytes(v) & TAIL_MASK[e - i]!) !== 0) return copyQuoted(src, view, i, e, out, outView, o, p)
    outView.setInt32(p, v, true)
    return p + (e - i)
  }
  for (; i < e; i++) {
    const b = src[i]!
    if (NEEDS_QUOTES[b] !== 0) return copyQuoted(src, view, i, e, out, outView, o, p)
    out[p++] = b
  }
  return p
}

/** `src[s, e)` at `o`, a word at a time (the last word may run past `e`, see WORD_PAD); returns `o + (e - s)`. */
function copyWords(view: DataView, length: number, s: number, e: number, outView: DataView, o: number): number {
  let i = s
  let p = o
  for (; i + 4 <= e; i += 4, p += 4) outView.setInt32(p, view.getInt32(i, true), true)
  if (i === e) return p
  if (i + 4 <= length) {
    outView.setInt32(p, view.getInt32(i, true), true)
    return p + (e - i)
  }
  for (; i < e; i++) outView.setUint8(p++, view.getUint8(i))
  return p
}

/** The field starting at `o` needs quotes: `out[o, p)` holds its first bytes, `src[i, e)` the rest. */
function copyQuoted(src: Buffer, view: DataView, i: number, e: number, out: Buffer, outView: DataView, o: number, p: number): number {
  out.copyWithin(o + 1, o, p)
  out[o] = QUOTE
  p++
  for (; i + 4 <= e; i += 4) {
    const v = view.getInt32(i, true)
    const q = v ^ 0x22222222
    if (((q - 0x01010101) & ~q & 0x80808080) === 0) {
      outView.setInt32(p, v, true)
      p += 4
    } else {
      for (let k = i; k < i + 4; k++) {
        const b = src[k]!
        if (b === QUOTE) out[p++] = QUOTE
        out[p++] = b
      }
    }
  }
  for (; i < e; i++) {
    const b = src[i]!
    if (b === QUOTE) out[p++] = QUOTE
    out[p++] = b
  }
  out[p++] = QUOTE
  return p
}

/** The decimal digits of the non-negative integer `v` (< 2^53) at `o`; returns the offset after them. */
function writeUint(out: Buffer, o: number, v: number): number {
  if (v <= 0x7fffffff) return writeSmallUint(out, o, v | 0)
  let digits = 1
  for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++
  let p = o + digits
  let x = v
  do {
    const q = Math.floor(x / 10)
    out[--p] = 48 + (x - 10 * q)
    x = q
  } while (x > 0)
  return o + digits
}

/** As `writeUint`, in int32 arithmetic. */
function writeSmallUint(out: Buffer, o: number, v: number): number {
  let digits = 1
  for (let x = v; x >= 10; x = (x / 10) | 0) digits++
  let p = o + digits
  let x = v
  do {
    const q = (x / 10) | 0
    out[--p] = 48 + (x - 10 * q)
    x = q
  } while (x > 0)
  return o + digits
}
