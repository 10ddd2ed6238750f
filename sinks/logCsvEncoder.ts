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
/** Bytes per block of a field copy (see `copyField`). */
const BLOCK = 16
/** A copy may write up to this many bytes past a field's end (they are overwritten by what follows). */
const OVERRUN_BYTES = BLOCK

/** 1 for the bytes a CSV field must be quoted for. */
const NEEDS_QUOTES = new Uint8Array(256)
NEEDS_QUOTES[QUOTE] = NEEDS_QUOTES[COMMA] = NEEDS_QUOTES[LF] = NEEDS_QUOTES[0x0d] = 1

/**
 * Non-zero when the little-endian word `v` may hold `"`, `,` or `\r` (a span
 * lies within one line, so it holds no `\n`). The "has a zero byte" test on
 * `v` XOR each of them, without its `& ~x`: exact for ASCII words, and
 * non-zero for any byte >= 0x80 too, after which the bytes are looked at one
 * by one. A borrow only runs upwards, from a byte that matched, so masking
 * out the bytes past a field's end keeps it exact.
 */
function maybeSpecial(v: number): number {
  return (((v ^ 0x22222222) - 0x01010101) | ((v ^ 0x2c2c2c2c) - 0x01010101) | ((v ^ 0x0d0d0d0d) - 0x01010101) | v) & 0x80808080
}

export class LogCsvEncoder {
  private sourceFile: string | undefined
  /** `_source_file` as a CSV field, with the delimiters around it. */
  private sourceFileBytes: Buffer = Buffer.alloc(0)
  private sourceFileLength = 0

  /** An upper bound of the bytes `encodeInto` writes for `batch`. */
  maxBytes(batch: LogBatch): number {
    this.useSourceFile(batch.sourceFile)
    return 2 * batch.blockBytes + batch.rowCount * (ROW_OVERHEAD_BYTES + this.sourceFileLength) + OVERRUN_BYTES
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
      o = copyPlain(buf, view, spans[at]!, spans[at + 1]!, outView, o)
      out[o++] = COMMA
      for (let k = at + 2; k < at + 2 * Span.response_time_ms; k += 2) {
        o = copyField(buf, view, spans[k]!, spans[k + 1]!, out, outView, o)
        out[o++] = COMMA
      }
      const f = flags[r]!
      const rt = at + 2 * Span.response_time_ms
      if ((f & VERBATIM_RESPONSE_TIME) !== 0) o = copyPlain(buf, view, spans[rt]!, spans[rt + 1]!, outView, o)
      else o += out.write('' + batch.responseTimeMs[r]!, o, 'latin1')
      out[o++] = COMMA
      const cpu = at + 2 * Span.cpu_percent
      if ((f & VERBATIM_CPU) !== 0) o = copyPlain(buf, view, spans[cpu]!, spans[cpu + 1]!, outView, o)
      else o += out.write('' + batch.cpuPercent[r]!, o, 'latin1')
      out[o++] = COMMA
      for (let k = at + 2 * Span.event_type; k < at + 2 * SPAN_COUNT; k += 2) {
        o = copyField(buf, view, spans[k]!, spans[k + 1]!, out, outView, o)
        out[o++] = COMMA
      }
      o = copyPlain(sourceFile, sourceFileView, 0, this.sourceFileLength, outView, o)
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
    const field = Buffer.from(csvField(name) + ',')
    this.sourceFileLength = field.length
    // Padded so that it, too, is copied a whole block at a time.
    this.sourceFileBytes = Buffer.concat([field, Buffer.alloc(BLOCK)])
  }
}

/*
 * Field copies go 16 bytes at a time, the last block always whole: the bytes
 * past the field's end are read too (when the buffer has them) and written
 * past it (overwritten by what follows, see OVERRUN_BYTES), and masked out of
 * the quoting check. So a field of up to 16 bytes (most of a row's) is four
 * loads, four stores and no data-dependent branch: per-field branch misses,
 * not the bytes, were most of the cost of a word loop with a byte tail.
 */

/** `WORD_MASKS[4 * n + j]`: the high bits of word j's bytes among the first n (0–16) bytes of a block. */
const WORD_MASKS = Int32Array.from({ length: 17 * 4 }, (_, k) => {
  const n = k >> 2
  const inWord = Math.max(0, Math.min(4, n - 4 * (k & 3)))
  return inWord === 4 ? 0x80808080 | 0 : (1 << (8 * inWord)) - 1 & 0x80808080
})

/**
 * Copies `src[s, e)` to `out` at `o` as a CSV field, checking its bytes for
 * ones that need quoting as they pass; when one does, writes it again, quoted.
 * Returns the offset after the field.
 */
function copyField(src: Buffer, view: DataView, s: number, e: number, out: Buffer, outView: DataView, o: number): number {
  if (s === e) {
    out[o] = QUOTE
    out[o + 1] = QUOTE
    return o + 2
  }
  if (e + BLOCK > src.length) return copyFieldNearEnd(src, s, e, out, o)
  let i = s
  let p = o
  let m = 0
  for (; i + BLOCK <= e; i += BLOCK, p += BLOCK) {
    const w0 = view.getInt32(i, true)
    const w1 = view.getInt32(i + 4, true)
    const w2 = view.getInt32(i + 8, true)
    const w3 = view.getInt32(i + 12, true)
    outView.setInt32(p, w0, true)
    outView.setInt32(p + 4, w1, true)
    outView.setInt32(p + 8, w2, true)
    outView.setInt32(p + 12, w3, true)
    m |= maybeSpecial(w0) | maybeSpecial(w1) | maybeSpecial(w2) | maybeSpecial(w3)
  }
  const k = 4 * (e - i)
  const w0 = view.getInt32(i, true)
  const w1 = view.getInt32(i + 4, true)
  const w2 = view.getInt32(i + 8, true)
  const w3 = view.getInt32(i + 12, true)
  outView.setInt32(p, w0, true)
  outView.setInt32(p + 4, w1, true)
  outView.setInt32(p + 8, w2, true)
  outView.setInt32(p + 12, w3, true)
  m |= (maybeSpecial(w0) & WORD_MASKS[k]!) | (maybeSpecial(w1) & WORD_MASKS[k + 1]!) | (maybeSpecial(w2) & WORD_MASKS[k + 2]!) | (maybeSpecial(w3) & WORD_MASKS[k + 3]!)
  // Non-zero for non-ASCII bytes too (emoji): only then look byte by byte.
  if (m !== 0) {
    const found = specialWords(view, s, e)
    if (found !== 0) return copyQuoted(src, view, s, e, out, outView, o, found === HAS_QUOTE)
  }
  return o + (e - s)
}

/** `src[s, e)` at `o`, unchecked (bytes that never need quoting), 16 at a time; returns `o + (e - s)`. */
function copyPlain(src: Buffer, view: DataView, s: number, e: number, outView: DataView, o: number): number {
  if (e + BLOCK > src.length) {
    for (let i = s; i < e; i++) outView.setUint8(o + i - s, src[i]!)
    return o + (e - s)
  }
  for (let i = s, p = o; i < e; i += BLOCK, p += BLOCK) {
    outView.setInt32(p, view.getInt32(i, true), true)
    outView.setInt32(p + 4, view.getInt32(i + 4, true), true)
    outView.setInt32(p + 8, view.getInt32(i + 8, true), true)
    outView.setInt32(p + 12, view.getInt32(i + 12, true), true)
  }
  return o + (e - s)
}

/** A field within 16 bytes of its buffer's end (rare: the last block of a chunk): byte by byte. */
function copyFieldNearEnd(src: Buffer, s: number, e: number, out: Buffer, o: number): number {
  const found = specialIn(src, s, e)
  if (found !== 0) return copyBytesQuoted(src, s, e, out, o)
  for (let i = s; i < e; i++) out[o + i - s] = src[i]!
  return o + (e - s)
}

const HAS_SPECIAL = 1
const HAS_QUOTE = 2

/** The exact "has a zero byte" test on `v` XOR each byte of `pattern`. */
function hasByte(v: number, pattern: number): number {
  const x = v ^ pattern
  return (x - 0x01010101) & ~x & 0x80808080
}

/** As `specialIn`, a word at a time (the field is at least 16 bytes from its buffer's end). */
function specialWords(view: DataView, s: number, e: number): number {
  let quote = 0
  let other = 0
  let i = s
  for (; i + 4 <= e; i += 4) {
    const v = view.getInt32(i, true)
    quote |= hasByte(v, 0x22222222)
    other |= hasByte(v, 0x2c2c2c2c) | hasByte(v, 0x0d0d0d0d)
  }
  if (i < e) {
    const mask = WORD_MASKS[4 * (e - i)]!
    const v = view.getInt32(i, true)
    quote |= hasByte(v, 0x22222222) & mask
    other |= (hasByte(v, 0x2c2c2c2c) | hasByte(v, 0x0d0d0d0d)) & mask
  }
  return quote !== 0 ? HAS_QUOTE : other !== 0 ? HAS_SPECIAL : 0
}

/** 0, HAS_SPECIAL (`,` or `\r` only) or HAS_QUOTE (a `"`, which is doubled). */
function specialIn(src: Buffer, s: number, e: number): number {
  let found = 0
  for (let i = s; i < e; i++) {
    const b = src[i]!
    if (b === QUOTE) return HAS_QUOTE
    found |= NEEDS_QUOTES[b]!
  }
  return found
}

/** `src[s, e)` at `o` as a quoted field; returns the offset after it. Most hold a `,` and no `"`: a block copy between the quotes. */
function copyQuoted(src: Buffer, view: DataView, s: number, e: number, out: Buffer, outView: DataView, o: number, hasQuote: boolean): number {
  if (hasQuote) return copyBytesQuoted(src, s, e, out, o)
  out[o] = QUOTE
  const p = copyPlain(src, view, s, e, outView, o + 1)
  out[p] = QUOTE
  return p + 1
}

/** `src[s, e)` at `o` as a quoted field, `"` doubled, byte by byte. */
function copyBytesQuoted(src: Buffer, s: number, e: number, out: Buffer, o: number): number {
  let p = o
  out[p++] = QUOTE
  for (let i = s; i < e; i++) {
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
