/**
 * Block parser for CarePlus application logs: bytes in, `LogRecord`s or
 * `LogReject`s out. Pure and stream-free (see `blockParserStream.ts` for the
 * `Transform` adapter).
 *
 * A block is six lines (header, metrics, then UserAgent/Message/Debug/TraceID
 * in any order) closed by a `---` line:
 *
 *   2025-07-01 00:21:00 [INFO] careplus.support.GenericService - TicketID=TCK0701000 SessionID=sess_TCK0701000
 *   IP=60.130.155.7 | ResponseTime=1269ms | CPU=27.64% | EventType=generic_event | Error=false
 *   UserAgent="PostmanRuntime/7.32.2"
 *   Message=" event for TCK0701000"
 *   Debug="ℹ️ Logged for monitoring"
 *   TraceID=None
 *   ---
 *
 * Design: a byte scanner finds lines with `Buffer#indexOf(0x0a)` and classifies
 * them (separator / blank / header-looking / data) with byte comparisons,
 * remembering the bounds of the block's lines. A complete block is decoded
 * once, as latin1, so string offsets are byte offsets: its structure (keys,
 * delimiters, numbers) is read from the bytes and ASCII values are `slice`s
 * of that string; a value holding non-ASCII bytes is decoded from its own
 * bytes as UTF-8 (see `FieldReader`). UTF-8 validity is checked once per chunk
 * over the region of complete lines; only when that region is invalid is each
 * block checked on its own. Partial data is carried over in a buffer of its
 * own (the block in progress), completed line by line from the next chunk.
 *
 * Line classification:
 *  - separator: `---` optionally followed by spaces/tabs, at most 64 bytes;
 *  - blank: only spaces, tabs, \v, \f (a trailing \r is always stripped);
 *  - header-looking: starts with `YYYY-MM-DD HH:MM:SS [` (digits by position).
 *
 * Block boundaries: a separator closes the block in progress; a header-looking
 * line while a block has lines closes it too (resync) and starts a new one;
 * any other non-blank line starts a block when none is in progress. Every
 * block ends as exactly one record or one reject.
 *
 * Reject codes (`reason` = `code: detail`), checked in this order:
 *  - `block_too_large`   the block grew past `maxBlockBytes` (counting from its
 *                        first line through the line being read, separator
 *                        included). One reject, `raw` = its first bytes; then
 *                        every byte is discarded up to the next separator line
 *                        (consumed) or header-looking line (starts a new block).
 *                        A single line longer than `maxBlockBytes` outside any
 *                        block (even a blank one) is treated the same way.
 *  - `too_few_lines`     closed by a separator or resync with < 6 lines;
 *  - `truncated_block`   end of input with < 6 lines;
 *  - `too_many_lines`    > 6 lines before the block was closed;
 *  - `invalid_utf8`      the block's bytes are not valid UTF-8 (`raw` decoded
 *                        with U+FFFD replacement);
 *  - `malformed_header`  line 1 is not `TS [LEVEL] service - …` (also empty
 *                        level or service);
 *  - `invalid_timestamp` the header's `YYYY-MM-DD HH:MM:SS` is not a real
 *                        calendar time (year 0001–9999, leap years honoured);
 *  - `malformed_field`   a field is missing, duplicated, unknown, empty
 *                        (TicketID/SessionID), unparseable (ResponseTime, CPU)
 *                        or has an unterminated quote; the detail names it.
 */
import { isUtf8 } from 'node:buffer'
import { LogBatch, ROW_STRIDE, Span, VERBATIM_CPU, VERBATIM_RESPONSE_TIME } from './logBatch.js'
import type { LogReject } from './logRecord.js'

export const DEFAULT_MAX_BLOCK_BYTES = 1024 * 1024
export const DEFAULT_MAX_REJECT_RAW_BYTES = 4096
/** Lower bound for `maxBlockBytes`, so a separator/header line always fits. */
export const MIN_MAX_BLOCK_BYTES = 256
export const LINES_PER_BLOCK = 6
/** Input bytes per record assumed when sizing a batch (the generator's blocks are ~400 bytes); batches grow past it. */
const BATCH_ROW_BYTES_ESTIMATE = 256

export const REJECT_CODES = [
  'block_too_large',
  'too_few_lines',
  'truncated_block',
  'too_many_lines',
  'invalid_utf8',
  'malformed_header',
  'invalid_timestamp',
  'malformed_field',
] as const

export interface BlockParserOptions {
  /** Written to every record/reject as `_source_file`. */
  sourceFile: string
  /** Largest block kept in memory (default 1 MiB, minimum 256). */
  maxBlockBytes?: number
  /** Cap on a reject's `raw` (default 4096, cut on a UTF-8 boundary; at most maxBlockBytes - 2). */
  maxRejectRawBytes?: number
}

export interface BlockParserStats {
  bytes: number
  lines: number
  blocks: number
  rows: number
  rejects: number
}

const LF = 0x0a
const CR = 0x0d
const SPACE = 0x20
const TAB = 0x09
const DASH = 0x2d
const SEPARATOR_MAX_BYTES = 64
const HEADER_PREFIX_BYTES = 21
/** `YYYY-MM-DD HH:MM:SS [`: 0 = any digit, otherwise the exact byte. */
const HEADER_PATTERN = Uint8Array.from('0000-00-00 00:00:00 [', (c) => (c === '0' ? 0 : c.charCodeAt(0)))
const UTF8_BOM = Uint8Array.of(0xef, 0xbb, 0xbf)

/** Why a block is being closed. */
const Close = { Separator: 0, Resync: 1, Eof: 2 } as const
type Close = (typeof Close)[keyof typeof Close]

/** Whether a (possibly partial) line starts like a header. */
const HeaderProbe = { No: 0, Maybe: 1, Yes: 2 } as const
type HeaderProbe = (typeof HeaderProbe)[keyof typeof HeaderProbe]

function isBlankByte(b: number): boolean {
  return b === SPACE || b === TAB || b === CR || b === 0x0b || b === 0x0c
}

/** How much of `buf[ls, end)` matches `YYYY-MM-DD HH:MM:SS [`. */
function probeHeader(buf: Uint8Array, ls: number, end: number): HeaderProbe {
  const n = end - ls < HEADER_PREFIX_BYTES ? end - ls : HEADER_PREFIX_BYTES
  for (let i = 0; i < n; i++) {
    const want = HEADER_PATTERN[i]!
    const b = buf[ls + i]!
    if (want === 0 ? b - 48 >>> 0 > 9 : b !== want) return HeaderProbe.No
  }
  return n === HEADER_PREFIX_BYTES ? HeaderProbe.Yes : HeaderProbe.Maybe
}

function isHeaderLooking(buf: Uint8Array, ls: number, le: number): boolean {
  // Cheap reject first: most lines start with a letter.
  return buf[ls]! - 48 >>> 0 <= 9 && probeHeader(buf, ls, le) === HeaderProbe.Yes
}

/** `---` then only spaces/tabs (or \r), at most 64 bytes. */
function isSeparator(buf: Uint8Array, ls: number, le: number): boolean {
  const n = le - ls
  if (n < 3 || n > SEPARATOR_MAX_BYTES) return false
  if (buf[ls] !== DASH || buf[ls + 1] !== DASH || buf[ls + 2] !== DASH) return false
  for (let i = ls + 3; i < le; i++) {
    const b = buf[i]!
    if (b !== SPACE && b !== TAB && b !== CR) return false
  }
  return true
}

function isBlank(buf: Uint8Array, ls: number, le: number): boolean {
  for (let i = ls; i < le; i++) if (!isBlankByte(buf[i]!)) return false
  return true
}

/**
 * Decode at most `cap` bytes of `buf[s, e)`, never splitting a UTF-8 sequence.
 * Invalid bytes become U+FFFD (3 bytes each), so the decoded text is trimmed
 * further until it also encodes to at most `cap` bytes.
 */
function decodeCapped(buf: Buffer, s: number, e: number, cap: number): string {
  let end = e
  for (;;) {
    if (end - s > cap) end = s + cap
    for (let k = 0; k < 3 && end > s && end < e && (buf[end]! & 0xc0) === 0x80; k++) end--
    const text = buf.toString('utf8', s, end)
    const over = text.length <= cap / 3 ? 0 : Buffer.byteLength(text) - cap
    if (over <= 0) return text
    end -= over
  }
}

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
}

export class BlockParser {
  readonly stats: BlockParserStats = { bytes: 0, lines: 0, blocks: 0, rows: 0, rejects: 0 }

  private readonly sourceFile: string
  private readonly maxBlockBytes: number
  private readonly maxRejectRawBytes: number

  /**
   * Carry-over between chunks: bytes of the block in progress (from its first
   * line) or, when no block is in progress, of the partial last line. Its own
   * growable storage; whole chunks are never retained.
   */
  protected carry: Buffer = Buffer.allocUnsafe(1024)
  protected carryLen = 0
  /** Offset in `carry` of the partial (unterminated) line. */
  protected carryLineStart = 0
  /** Bytes the scanner has visited or copied (see `scannedBytes`). */
  private scanned = 0

  /** Block in progress; offsets are into whichever buffer is being scanned. */
  private blockLines = 0
  private blockStart = 0
  private blockEnd = 0
  private blockFirstLine = 0
  /** The block's first line starts like a header (else it is a malformed_header reject). */
  private blockHeaderLooking = false

  /** After `block_too_large`: drop lines until a separator or header-looking line. */
  private discarding = false
  /** …and the rest of the current line first. */
  private skippingLine = false

  /** Offsets (relative to blockStart) of the block's first six non-blank lines: start, end, start, end… */
  private readonly lineBounds = new Int32Array(2 * LINES_PER_BLOCK)
  private readonly fields = new FieldReader()

  /** `buf[validFrom, validTo)` of the chunk being scanned is known to be valid UTF-8. */
  private validFrom = 0
  private validTo = 0

  /** BOM bytes matched so far at stream start; -1 once settled. */
  private bomMatched = 0
  private ended = false

  constructor(opts: BlockParserOptions) {
    this.sourceFile = opts.sourceFile
    this.maxBlockBytes = opts.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES
    if (!Number.isInteger(this.maxBlockBytes) || this.maxBlockBytes < MIN_MAX_BLOCK_BYTES) {
      throw new RangeError(`maxBlockBytes must be an integer >= ${MIN_MAX_BLOCK_BYTES}, got ${this.maxBlockBytes}`)
    }
    const cap = opts.maxRejectRawBytes ?? DEFAULT_MAX_REJECT_RAW_BYTES
    if (!Number.isInteger(cap) || cap < 0) throw new RangeError(`maxRejectRawBytes must be a non-negative integer, got ${cap}`)
    // Below maxBlockBytes - 2 so a too-large block's raw is the same whether it
    // was caught on a partial or a complete (\r\n-terminated) line.
    this.maxRejectRawBytes = Math.min(cap, this.maxBlockBytes - 2)
  }

  /** Bytes currently carried over between chunks (the block in progress and/or a partial line). */
  get bufferedBytes(): number {
    return this.carryLen
  }

  /**
   * Work done so far, in bytes: those searched for line ends, checked as
   * UTF-8, copied into the carry, and the blocks read. Linear in the input
   * whatever the chunking (at most about 4x its size: a line carried over
   * is searched, copied, read again when complete, and read as its block);
   * a rescan of carried data on every push would make it quadratic. The linear-time test counts this, not
   * wall time.
   */
  get scannedBytes(): number {
    return this.scanned
  }

  /** A batch for this parser's output, sized for about `bytes` of input. */
  newBatch(bytes = 0): LogBatch {
    return new LogBatch(this.sourceFile, bytes / BATCH_ROW_BYTES_ESTIMATE + 8)
  }

  /** Parse what `chunk` completes; append its records and rejects to `out` (see `LogBatch` on keeping `chunk` unchanged). */
  push(chunk: Uint8Array, out: LogBatch): void {
    if (this.ended) throw new Error('BlockParser.push() after end()')
    this.stats.bytes += chunk.byteLength
    let buf = asBuffer(chunk)
    if (this.bomMatched >= 0) {
      const rest = this.skipBom(buf, out)
      if (rest === undefined) return
      buf = rest
    }
    if (buf.length > 0) this.scanChunk(buf, out)
  }

  /** Flush the remainder at end of input. */
  end(out: LogBatch): void {
    if (this.ended) return
    this.ended = true
    if (this.bomMatched > 0) this.scanChunk(Buffer.from(UTF8_BOM.subarray(0, this.bomMatched)), out)
    this.bomMatched = -1
    if (this.skippingLine) {
      this.stats.lines++
      this.skippingLine = false
    } else if (this.carryLineStart < this.carryLen) {
      // Unterminated last line: treat it as if it had a newline.
      this.appendCarry(Buffer.of(LF), 0, 1)
      this.scanLines(this.carry, this.carryLineStart, this.carryLen, out)
    }
    if (this.blockLines > 0) this.closeBlock(this.carry, Close.Eof, out)
    this.carryLen = 0
    this.carryLineStart = 0
    this.carry = EMPTY
    this.fields.release()
  }

  /** Strip a UTF-8 BOM at the very start of the stream, even when split across chunks. */
  private skipBom(buf: Buffer, out: LogBatch): Buffer | undefined {
    let i = 0
    while (i < buf.length && this.bomMatched + i < UTF8_BOM.length) {
      if (buf[i] !== UTF8_BOM[this.bomMatched + i]) {
        // Not a BOM: replay what earlier chunks held back, then this chunk from its start.
        const held = this.bomMatched
        this.bomMatched = -1
        if (held > 0) this.scanChunk(Buffer.from(UTF8_BOM.subarray(0, held)), out)
        return buf
      }
      i++
    }
    if (this.bomMatched + i === UTF8_BOM.length) {
      this.bomMatched = -1
      return buf.subarray(i)
    }
    this.bomMatched += i
    return undefined
  }

  private scanChunk(chunk: Buffer, out: LogBatch): void {
    const n = chunk.length
    let pos = 0

    if (this.skippingLine) {
      const nl = this.lineEnd(chunk, 0, n)
      if (nl < 0) return
      this.stats.lines++
      this.skippingLine = false
      pos = nl + 1
    }

    // Complete the carried-over block line by line (usually a few short lines),
    // until it closes or lies entirely in this chunk; then scan the chunk in place.
    while (this.carryLen > 0 && pos < n) {
      const nl = this.lineEnd(chunk, pos, n)
      if (nl < 0) {
        this.appendCarry(chunk, pos, n)
        this.checkPartialLine(out)
        return
      }
      const base = this.carryLen
      this.appendCarry(chunk, pos, nl + 1)
      this.scanLines(this.carry, this.carryLineStart, this.carryLen, out)
      if (this.blockLines === 0) {
        this.carryLen = 0
      } else if (this.blockStart >= base) {
        // The block (e.g. started by a resync header) begins inside this chunk.
        const delta = pos - base
        this.blockStart += delta
        this.blockEnd += delta
        this.carryLen = 0
      } else {
        this.carryLineStart = this.carryLen
      }
      pos = nl + 1
    }
    if (this.carryLen > 0) return // the chunk ended on a newline inside the carried block
    this.carryLineStart = 0
    if (pos >= n) {
      // A block rebased onto this chunk still has to be carried over.
      if (this.blockLines > 0) this.keepRemainder(chunk, n, out)
      return
    }

    const lastNl = chunk.lastIndexOf(LF)
    this.scanned += n - Math.max(lastNl, pos)
    if (lastNl >= pos) {
      // One UTF-8 check for all complete lines (a '\n' never sits inside a multibyte sequence).
      const from = this.blockLines > 0 ? this.blockStart : pos
      this.scanned += lastNl + 1 - from
      if (isUtf8(chunk.subarray(from, lastNl + 1))) {
        this.validFrom = from
        this.validTo = lastNl + 1
      }
      this.scanLines(chunk, pos, lastNl + 1, out)
      this.validFrom = this.validTo = 0
      pos = lastNl + 1
    }
    this.keepRemainder(chunk, pos, out)
  }

  /** Copy what is still needed (block in progress and/or partial line) into the carry. */
  private keepRemainder(chunk: Buffer, lineStart: number, out: LogBatch): void {
    const n = chunk.length
    const keepFrom = this.blockLines > 0 ? this.blockStart : lineStart
    if (keepFrom === n) return
    this.carryLen = 0
    this.appendCarry(chunk, keepFrom, n)
    this.carryLineStart = lineStart - keepFrom
    this.blockStart -= keepFrom
    this.blockEnd -= keepFrom
    this.checkPartialLine(out)
  }

  /** Index of the first '\n' in `buf[from, to)`, or -1; counted as work. */
  protected lineEnd(buf: Buffer, from: number, to: number): number {
    const nl = buf.indexOf(LF, from)
    if (nl < 0 || nl >= to) {
      this.scanned += to - from
      return -1
    }
    this.scanned += nl + 1 - from
    return nl
  }

  protected appendCarry(src: Buffer, from: number, to: number): void {
    this.scanned += to - from
    const need = this.carryLen + (to - from)
    if (need > this.carry.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.carry.length * 2))
      this.carry.copy(grown, 0, 0, this.carryLen)
      this.carry = grown
    }
    src.copy(this.carry, this.carryLen, from, to)
    this.carryLen = need
  }

  /**
   * Bound memory on a partial line at the end of the data seen so far. Mirrors
   * the checks `consumeLine` makes on complete lines, so that chunking never
   * changes the outcome.
   */
  private checkPartialLine(out: LogBatch): void {
    const buf = this.carry
    const ls = this.carryLineStart
    const end = this.carryLen
    if (end === ls) return
    const probe = probeHeader(buf, ls, end)
    if (this.discarding) {
      if (probe === HeaderProbe.Yes) {
        if (end - ls > this.maxBlockBytes) {
          this.discarding = false
          this.tooLarge(buf, ls, end, this.stats.lines + 1, out)
          this.dropPartialLine()
        }
      } else if (end - ls > SEPARATOR_MAX_BYTES) {
        this.dropPartialLine()
      }
      return
    }
    if (probe === HeaderProbe.Maybe) return // under 21 bytes: decided when more arrives
    if (probe === HeaderProbe.Yes) {
      if (end - ls <= this.maxBlockBytes) return
      if (this.blockLines > 0) this.closeBlock(buf, Close.Resync, out)
      this.tooLarge(buf, ls, end, this.stats.lines + 1, out)
      this.dropPartialLine()
      return
    }
    const owner = this.blockLines > 0 ? this.blockStart : ls
    if (end - owner > this.maxBlockBytes) {
      const firstLine = this.blockLines > 0 ? this.blockFirstLine : this.stats.lines + 1
      this.blockLines = 0
      this.tooLarge(buf, owner, end, firstLine, out)
      this.dropPartialLine()
    }
  }

  private dropPartialLine(): void {
    this.carryLen = 0
    this.carryLineStart = 0
    this.skippingLine = true
  }

  /** Consume the complete lines in buf[from, to); `to` is just past a '\n'. */
  private scanLines(buf: Buffer, from: number, to: number, out: LogBatch): void {
    let ls = from
    while (ls < to) {
      const nl = this.lineEnd(buf, ls, to)
      let le = nl
      if (le > ls && buf[le - 1] === CR) le--
      this.consumeLine(buf, ls, le, nl + 1, ++this.stats.lines, out)
      ls = nl + 1
    }
  }

  private consumeLine(buf: Buffer, ls: number, le: number, next: number, lineNo: number, out: LogBatch): void {
    const header = le > ls && isHeaderLooking(buf, ls, le)
    if (this.discarding) {
      if (header) {
        this.discarding = false
      } else {
        if (le > ls && buf[ls] === DASH && isSeparator(buf, ls, le)) this.discarding = false
        return
      }
    }
    if (header) {
      if (this.blockLines > 0) this.closeBlock(buf, Close.Resync, out)
      this.blockLines = 1
      this.blockStart = ls
      this.blockEnd = le
      this.blockFirstLine = lineNo
      this.blockHeaderLooking = true
      this.lineBounds[0] = 0
      this.lineBounds[1] = le - ls
      if (next - ls > this.maxBlockBytes) {
        this.blockLines = 0
        this.tooLarge(buf, ls, le, lineNo, out)
      }
      return
    }
    const inBlock = this.blockLines > 0
    const owner = inBlock ? this.blockStart : ls
    if (next - owner > this.maxBlockBytes) {
      this.blockLines = 0
      this.tooLarge(buf, owner, le, inBlock ? this.blockFirstLine : lineNo, out)
      return
    }
    if (le === ls) return
    const b0 = buf[ls]!
    if (b0 === DASH && isSeparator(buf, ls, le)) {
      if (inBlock) this.closeBlock(buf, Close.Separator, out)
      return
    }
    if (isBlankByte(b0) && isBlank(buf, ls, le)) return
    if (!inBlock) {
      this.blockStart = ls
      this.blockFirstLine = lineNo
      this.blockHeaderLooking = false
    }
    const k = this.blockLines++
    if (k < LINES_PER_BLOCK) {
      this.lineBounds[2 * k] = ls - this.blockStart
      this.lineBounds[2 * k + 1] = le - this.blockStart
    }
    this.blockEnd = le
  }

  private tooLarge(buf: Buffer, start: number, end: number, firstLine: number, out: LogBatch): void {
    this.stats.blocks++
    this.discarding = true
    this.reject(out, firstLine, `block_too_large: block exceeds maxBlockBytes (${this.maxBlockBytes} bytes)`, decodeCapped(buf, start, end, this.maxRejectRawBytes))
  }

  private closeBlock(buf: Buffer, cause: Close, out: LogBatch): void {
    this.stats.blocks++
    const lines = this.blockLines
    const s = this.blockStart
    const e = this.blockEnd
    this.scanned += e - s
    this.blockLines = 0
    if (lines !== LINES_PER_BLOCK) {
      const reason =
        lines > LINES_PER_BLOCK
          ? `too_many_lines: expected ${LINES_PER_BLOCK} lines, got ${lines}`
          : cause === Close.Eof
            ? `truncated_block: expected ${LINES_PER_BLOCK} lines, got ${lines} before end of input`
            : `too_few_lines: expected ${LINES_PER_BLOCK} lines, got ${lines}`
      this.reject(out, this.blockFirstLine, reason, decodeCapped(buf, s, e, this.maxRejectRawBytes))
      return
    }
    if ((s < this.validFrom || e > this.validTo) && !isUtf8(buf.subarray(s, e))) {
      this.reject(out, this.blockFirstLine, 'invalid_utf8: block is not valid UTF-8', decodeCapped(buf, s, e, this.maxRejectRawBytes))
      return
    }
    if (!this.blockHeaderLooking) {
      this.reject(out, this.blockFirstLine, 'malformed_header: line 1 does not start with "YYYY-MM-DD HH:MM:SS ["', decodeCapped(buf, s, e, this.maxRejectRawBytes))
      return
    }
    // The carry is rewritten by later chunks: a block completed in it gets bytes of its own.
    let rowBuf = buf
    let rs = s
    if (buf === this.carry) {
      rowBuf = Buffer.allocUnsafe(e - s)
      buf.copy(rowBuf, 0, s, e)
      rs = 0
    }
    out.reserveRow()
    const reason = this.fields.parse(rowBuf, rs, rs + (e - s), this.lineBounds, out)
    if (reason !== undefined) {
      this.reject(out, this.blockFirstLine, reason, decodeCapped(buf, s, e, this.maxRejectRawBytes))
      return
    }
    this.stats.rows++
    out.commitRow(rowBuf, rs, rs + (e - s), this.blockFirstLine)
  }

  private reject(out: LogBatch, line: number, reason: string, raw: string): void {
    this.stats.rejects++
    const rejected: LogReject = { _source_file: this.sourceFile, _source_line: line, reason, raw }
    out.rejects.push(rejected)
  }
}

// ---------------------------------------------------------------------------
// Field extraction from one complete block: six lines, valid UTF-8.

const PIPE = 0x7c
const EQUALS = 0x3d
const QUOTE = 0x22
const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
const INT32_MAX = 2147483647
/** Up to this many decimal digits, an integer is exact in a double. */
const SAFE_DIGITS = 15
const POW10 = Float64Array.from({ length: SAFE_DIGITS + 1 }, (_, i) => 10 ** i)
const SHOW_BYTES = 40

/** A `Key=` prefix, pre-split into little-endian 32-bit words for `DataView` comparison. */
interface FieldKey {
  readonly name: string
  readonly length: number
  readonly words: Int32Array
  readonly tail: Uint8Array
}

function fieldKey(name: string): FieldKey {
  const bytes = Buffer.from(name + '=', 'latin1')
  const whole = bytes.length >> 2
  const words = new Int32Array(whole)
  for (let i = 0; i < whole; i++) words[i] = bytes.readInt32LE(4 * i)
  return { name, length: bytes.length, words, tail: bytes.subarray(4 * whole) }
}
const TICKET_ID = fieldKey('TicketID')
const SESSION_ID = fieldKey('SessionID')
const METRICS = ['IP', 'ResponseTime', 'CPU', 'EventType', 'Error'].map(fieldKey)
const IP = 0
const RESPONSE_TIME = 1
const CPU = 2
const EVENT_TYPE = 3
const ERROR = 4
const DETAILS = ['UserAgent', 'Message', 'Debug', 'TraceID'].map(fieldKey)
const USER_AGENT = 0
const MESSAGE = 1
const DEBUG = 2
const TRACE_ID = 3
const EMPTY = Buffer.alloc(0)
const EMPTY_VIEW = new DataView(new ArrayBuffer(0))
const EMPTY_SPANS = new Int32Array(0)
const DETAIL_SLOTS = [Span.user_agent, Span.message, Span.debug, Span.trace_id]

/** Whether `key` (with its `=`) starts at byte `p`, before `end`. */
function hasKey(view: DataView, p: number, end: number, key: FieldKey): boolean {
  if (end - p < key.length) return false
  const words = key.words
  let o = p
  for (let i = 0; i < words.length; i++, o += 4) if (view.getInt32(o, true) !== words[i]) return false
  const tail = key.tail
  for (let i = 0; i < tail.length; i++) if (view.getUint8(o + i) !== tail[i]) return false
  return true
}

/** The two-digit number at `at` (digits already checked). */
function twoDigits(buf: Buffer, at: number): number {
  return buf[at]! * 10 + buf[at + 1]! - 528 // 48 * 11
}

/** `YYYY-MM-DD HH:MM:SS` at `s` (digits already checked by the header pattern) is a real calendar time. */
function validTimestamp(buf: Buffer, s: number): boolean {
  const year = twoDigits(buf, s) * 100 + twoDigits(buf, s + 2)
  const month = twoDigits(buf, s + 5)
  const day = twoDigits(buf, s + 8)
  if (year < 1 || month < 1 || month > 12 || day < 1) return false
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  if (day > DAYS_IN_MONTH[month]! + (leap ? 1 : 0)) return false
  return twoDigits(buf, s + 11) < 24 && twoDigits(buf, s + 14) < 60 && twoDigits(buf, s + 17) < 60
}

/**
 * Reads one block's fields into the next row of a `LogBatch`: structure
 * (keys, delimiters, numbers) from the bytes, every value as a span of them.
 * No string is built for an accepted block; the two numbers are computed
 * (the schema's types) and flagged when their bytes are exactly how JS
 * prints them, so the CSV encoder can copy those too. One per parser, reused
 * across blocks; split into one method per line so each stays small enough
 * for V8 to inline its helpers.
 */
class FieldReader {
  private buf: Buffer = EMPTY
  /** DataView of `buf` for word-at-a-time reads, kept while the same buffer is scanned. */
  private view: DataView = EMPTY_VIEW
  private viewOf: Buffer = EMPTY
  /** End of the line being read (absolute). */
  private lineZ = 0
  /** The row being written: `spans[at + 2 * slot]` is a slot's start. */
  private spans: Int32Array = EMPTY_SPANS
  private at = 0
  private responseTimeMs = 0
  private cpuPercent = 0
  private flags = 0

  /**
   * Parse the valid-UTF-8 block `buf[s, e)`, whose line 1 starts like a
   * header, into row `out.rowCount` (room reserved). `bounds` are its six
   * lines' [start, end) pairs relative to `s`. Returns a reject reason, or
   * undefined when the row is complete (the caller commits it).
   */
  parse(buf: Buffer, s: number, e: number, bounds: Int32Array, out: LogBatch): string | undefined {
    this.buf = buf
    if (this.viewOf !== buf) {
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
      this.viewOf = buf
    }
    this.spans = out.spans
    this.at = out.rowCount * ROW_STRIDE
    this.flags = 0
    const reason = this.readHeader(bounds, s) ?? this.readMetrics(bounds, s) ?? this.readDetails(bounds, s)
    if (reason !== undefined) return reason
    const r = out.rowCount
    out.responseTimeMs[r] = this.responseTimeMs
    out.cpuPercent[r] = this.cpuPercent
    out.flags[r] = this.flags
    return undefined
  }

  /** Drop references to the last buffer scanned. */
  release(): void {
    this.buf = this.viewOf = EMPTY
    this.view = EMPTY_VIEW
    this.spans = EMPTY_SPANS
  }

  private span(slot: number, b0: number, b1: number): void {
    const i = this.at + 2 * slot
    this.spans[i] = b0
    this.spans[i + 1] = b1
  }

  /** Make line `k` current; returns its first byte (absolute). */
  private enterLine(bounds: Int32Array, k: number, base: number): number {
    this.lineZ = base + bounds[2 * k + 1]!
    return base + bounds[2 * k]!
  }

  /** Byte offset of the next `code` in the current line from byte `b`, or -1. */
  private find(code: number, b: number): number {
    const buf = this.buf
    const z = this.lineZ
    for (let i = b; i < z; i++) if (buf[i] === code) return i
    return -1
  }

  /** A value quoted for a reject detail, shortened. */
  private show(b0: number, b1: number): string {
    return JSON.stringify(decodeCapped(this.buf, b0, b1, SHOW_BYTES)) + (b1 - b0 > SHOW_BYTES ? '…' : '')
  }

  /** Line 1: `YYYY-MM-DD HH:MM:SS [LEVEL] service - TicketID=… SessionID=…` (prefix already checked). */
  private readHeader(bounds: Int32Array, base: number): string | undefined {
    const buf = this.buf
    const a = this.enterLine(bounds, 0, base)
    const z = this.lineZ
    let levelEnd = a + HEADER_PREFIX_BYTES
    while (levelEnd < z && buf[levelEnd] !== 0x5d /* ] */) levelEnd++
    if (levelEnd === z) return 'malformed_header: no "]" after the log level'
    if (levelEnd === a + HEADER_PREFIX_BYTES) return 'malformed_header: empty log level'
    if (levelEnd + 1 >= z || buf[levelEnd + 1] !== SPACE) return 'malformed_header: expected "] " after the log level'
    const serviceStart = levelEnd + 2
    let serviceEnd = -1
    for (let i = this.find(DASH, serviceStart + 1); i > 0; i = this.find(DASH, i + 1)) {
      if (buf[i - 1] === SPACE && buf[i + 1] === SPACE && i + 1 < z) {
        serviceEnd = i - 1
        break
      }
    }
    if (serviceEnd < 0) return 'malformed_header: no " - " after the service'
    if (serviceEnd === serviceStart) return 'malformed_header: empty service'
    if (!validTimestamp(buf, a)) return `invalid_timestamp: ${buf.toString('latin1', a, a + 19)} is not a valid calendar date-time`

    let ticketStart = -1
    let ticketEnd = -1
    let sessionStart = -1
    let sessionEnd = -1
    let p = serviceEnd + 3
    while (p < z) {
      if (buf[p] === SPACE) {
        p++
        continue
      }
      let tokenEnd = this.find(SPACE, p)
      if (tokenEnd < 0) tokenEnd = z
      const key = buf[p] === 0x54 /* T */ ? TICKET_ID : SESSION_ID
      if (!hasKey(this.view, p, tokenEnd, key)) return `malformed_field: unexpected header token ${this.show(p, tokenEnd)}`
      const vs = p + key.length
      if (vs === tokenEnd) return `malformed_field: ${key.name} is empty`
      if (key === TICKET_ID) {
        if (ticketStart >= 0) return 'malformed_field: TicketID duplicated'
        ticketStart = vs
        ticketEnd = tokenEnd
      } else {
        if (sessionStart >= 0) return 'malformed_field: SessionID duplicated'
        sessionStart = vs
        sessionEnd = tokenEnd
      }
      p = tokenEnd
    }
    if (ticketStart < 0) return 'malformed_field: TicketID missing'
    if (sessionStart < 0) return 'malformed_field: SessionID missing'
    this.span(Span.timestamp, a, a + 19)
    this.span(Span.log_level, a + HEADER_PREFIX_BYTES, levelEnd)
    this.span(Span.service, serviceStart, serviceEnd)
    this.span(Span.ticket_id, ticketStart, ticketEnd)
    this.span(Span.session_id, sessionStart, sessionEnd)
    return undefined
  }

  /** Line 2: `IP=… | ResponseTime=…ms | CPU=…% | EventType=… | Error=…`, any order. */
  private readMetrics(bounds: Int32Array, base: number): string | undefined {
    const buf = this.buf
    const a = this.enterLine(bounds, 1, base)
    const z = this.lineZ
    let seen = 0
    let p = a
    for (;;) {
      let metric: number
      switch (buf[p]) {
        case 0x49 /* I */:
          metric = IP
          break
        case 0x52 /* R */:
          metric = RESPONSE_TIME
          break
        case 0x43 /* C */:
          metric = CPU
          break
        case 0x45 /* E */:
          metric = buf[p + 1] === 0x76 /* v */ ? EVENT_TYPE : ERROR
          break
        default:
          return this.unknownMetric(p)
      }
      // Keys hold no ' ' or '|', so matching up to the line's end cannot cross a ` | `.
      const key = METRICS[metric]!
      if (!hasKey(this.view, p, z, key)) return this.unknownMetric(p)
      if (seen & (1 << metric)) return `malformed_field: ${key.name} duplicated`
      seen |= 1 << metric
      const vs = p + key.length
      let partEnd: number
      if (metric === RESPONSE_TIME || metric === CPU) {
        // Numbers are read in place; the part must end right after one.
        partEnd = metric === RESPONSE_TIME ? this.scanMillis(vs) : this.scanPercent(vs)
        if (partEnd < 0 || (partEnd < z && !this.isPartSeparator(partEnd))) return this.badNumber(metric, vs)
      } else {
        partEnd = this.partEnd(vs)
        this.span(metric === IP ? Span.ip : metric === EVENT_TYPE ? Span.event_type : Span.error, vs, partEnd)
      }
      if (partEnd === z) break
      p = partEnd + 3
    }
    if (seen !== 0b11111) {
      for (let m = 0; m < METRICS.length; m++) if (!(seen & (1 << m))) return `malformed_field: ${METRICS[m]!.name} missing`
    }
    return undefined
  }

  /**
   * `-?\d+ms` fitting a signed 32-bit int, from byte `s`: sets `responseTimeMs`
   * and its span, returns where it ends, or -1. The digits are verbatim (what
   * `'' + value` prints) unless they have a leading zero or are `-0`.
   */
  private scanMillis(s: number): number {
    const buf = this.buf
    const z = this.lineZ
    const neg = buf[s] === DASH
    const first = neg ? s + 1 : s
    let i = first
    let v = 0
    for (; i < z; i++) {
      const d = buf[i]! - 48
      if (d >>> 0 > 9) break
      v = v * 10 + d
      if (v > INT32_MAX + 1) return -1
    }
    if (i === first || i + 2 > z || buf[i] !== 0x6d /* m */ || buf[i + 1] !== 0x73 /* s */) return -1
    if (!neg && v > INT32_MAX) return -1
    this.responseTimeMs = neg ? 0 - v : v
    this.span(Span.response_time_ms, s, i)
    if (buf[first] !== 0x30 /* 0 */ || (i === first + 1 && !neg)) this.flags |= VERBATIM_RESPONSE_TIME
    return i + 2
  }

  /**
   * `-?\d+(\.\d+)?%` from byte `s`: sets `cpuPercent` and its span, returns
   * where it ends, or -1. With at most 15 digits, mantissa / 10^k divides two
   * exact doubles, so it is correctly rounded: the same double `Number()`
   * gives. Such a decimal is also what JS prints for that double (15 digits
   * round-trip), once written canonically: no leading zero, no trailing
   * fractional zero, not `-0`, and not below 1e-6 (printed with an exponent).
   */
  private scanPercent(s: number): number {
    const buf = this.buf
    const z = this.lineZ
    const neg = buf[s] === DASH
    const first = neg ? s + 1 : s
    let i = first
    let mantissa = 0
    for (; i < z; i++) {
      const d = buf[i]! - 48
      if (d >>> 0 > 9) break
      mantissa = mantissa * 10 + d
    }
    const intDigits = i - first
    if (intDigits === 0) return -1
    let fracDigits = 0
    if (i < z && buf[i] === 0x2e /* . */) {
      const dot = ++i
      for (; i < z; i++) {
        const d = buf[i]! - 48
        if (d >>> 0 > 9) break
        mantissa = mantissa * 10 + d
      }
      fracDigits = i - dot
      if (fracDigits === 0) return -1
    }
    if (i >= z || buf[i] !== 0x25 /* % */) return -1
    const exact = intDigits + fracDigits <= SAFE_DIGITS
    const v = exact ? mantissa / POW10[fracDigits]! : Number(buf.toString('latin1', first, i))
    if (v === Infinity) return -1
    this.cpuPercent = neg ? 0 - v : v
    this.span(Span.cpu_percent, s, i)
    if (
      exact &&
      (buf[first] !== 0x30 /* 0 */ || intDigits === 1) &&
      (fracDigits === 0 || buf[i - 1] !== 0x30) &&
      (v >= 1e-6 || (v === 0 && !neg && fracDigits === 0))
    ) {
      this.flags |= VERBATIM_CPU
    }
    return i + 1
  }

  /** Whether a ` | ` starts at byte `b` of the current line. */
  private isPartSeparator(b: number): boolean {
    const buf = this.buf
    return b + 2 < this.lineZ && buf[b] === SPACE && buf[b + 1] === PIPE && buf[b + 2] === SPACE
  }

  /** Where the metrics part containing byte `b` ends: the next ` | `, or the line's end. */
  private partEnd(b: number): number {
    const buf = this.buf
    for (let i = this.find(PIPE, b); i > 0; i = this.find(PIPE, i + 1)) {
      if (buf[i - 1] === SPACE && buf[i + 1] === SPACE && i - 1 >= b && i + 1 < this.lineZ) return i - 1
    }
    return this.lineZ
  }

  private unknownMetric(p: number): string {
    const end = this.partEnd(p)
    let keyEnd = p
    while (keyEnd < end && this.buf[keyEnd] !== EQUALS) keyEnd++
    return `malformed_field: unknown key ${this.show(p, keyEnd)} on line 2`
  }

  private badNumber(metric: number, vs: number): string {
    const got = this.show(vs, this.partEnd(vs))
    return metric === RESPONSE_TIME
      ? `malformed_field: ResponseTime must be a 32-bit integer followed by "ms", got ${got}`
      : `malformed_field: CPU must be a decimal followed by "%", got ${got}`
  }

  /** Lines 3–6, in any order: `UserAgent=`, `Message=`, `Debug=`, `TraceID=`; quoted or not. */
  private readDetails(bounds: Int32Array, base: number): string | undefined {
    const buf = this.buf
    let seen = 0
    for (let k = 2; k < LINES_PER_BLOCK; k++) {
      const a = this.enterLine(bounds, k, base)
      const z = this.lineZ
      let detail: number
      switch (buf[a]) {
        case 0x55 /* U */:
          detail = USER_AGENT
          break
        case 0x4d /* M */:
          detail = MESSAGE
          break
        case 0x44 /* D */:
          detail = DEBUG
          break
        case 0x54 /* T */:
          detail = TRACE_ID
          break
        default:
          return this.unknownDetail(a, k)
      }
      const key = DETAILS[detail]!
      if (!hasKey(this.view, a, z, key)) return this.unknownDetail(a, k)
      if (seen & (1 << detail)) return `malformed_field: ${key.name} duplicated`
      seen |= 1 << detail
      let vs = a + key.length
      let ve = z
      if (vs < z && buf[vs] === QUOTE) {
        // Strip the outer pair only: from the first '"' to the line's last '"'.
        if (ve - vs < 2 || buf[ve - 1] !== QUOTE) return `malformed_field: ${key.name} has an unterminated quoted value`
        vs++
        ve--
      }
      this.span(DETAIL_SLOTS[detail]!, vs, ve)
    }
    // Four lines without duplicates: all four keys are present.
    return undefined
  }

  private unknownDetail(a: number, k: number): string {
    let keyEnd = a
    while (keyEnd < this.lineZ && this.buf[keyEnd] !== EQUALS) keyEnd++
    return `malformed_field: unknown key ${this.show(a, keyEnd)} on line ${k + 1}`
  }
}
