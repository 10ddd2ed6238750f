/**
 * The WebAssembly kernel that writes the stage's CSV rows from the parser's
 * byte spans (`logCsvKernel.wat`), and its memory. One instance per thread,
 * made on first use: an encode is synchronous, so JS never runs two at once
 * on it. The caller (`LogCsvEncoder`) copies a window of rows' spans, line
 * numbers and input bytes in, and the CSV out.
 *
 * The memory is made at its working size, MEMORY_BYTES; the encoder splits
 * its windows to fit it, so it grows only for a single row that needs more
 * (a block of megabytes, when MAX_BLOCK_BYTES allows one). Growing a WebAssembly memory detaches its old ArrayBuffer, and V8
 * answers the first detach in a thread by deoptimizing every function that
 * reads a typed array and compiling them again with a detach check on each
 * access: the parser's loops among them. Grown on demand from one page, the
 * kernel did that in every run: `--trace-deopt` showed the parser's nine
 * hottest functions deoptimized for "code dependencies" and three compiles
 * aborted, and the parser ran ~20 % slower in `parse-csv` than in `parse`
 * (CPU profile of each, a 2-core EPYC). Pages the kernel never touches cost
 * no RSS.
 *
 * Why WebAssembly: copying a field a 4-byte word at a time through a
 * DataView, the fastest way found in JS, cost 0.33 s per 100 MB of input on
 * a 2-core EPYC, half of what parsing cost there; the kernel's 16-byte SIMD
 * compare and store, with the copies in and out, costs ~0.1 s (bench/,
 * `csv-encode`).
 */
import { LOG_CSV_KERNEL_WASM } from './logCsvKernelWasm.js'

/** The little of the WebAssembly API used here (TypeScript's types for it live in lib "dom", which this project leaves out). */
interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { exports: object }
  Memory: new (descriptor: { initial: number }) => WasmMemory
}

interface KernelExports {
  encodeRows(spans: number, lines: number, from: number, to: number, delta: number, sourceFile: number, sourceFileLength: number, out: number): number
}

const PAGE_BYTES = 64 * 1024

/**
 * The memory a window may use. A window needs about three times its input
 * (the input, and up to twice it as CSV) plus ~300 bytes a row: the parser's
 * batches (one per read, 64–256 KiB) need 1 MiB or less; a bigger batch
 * is halved until each window fits (LogCsvEncoder).
 */
export const MEMORY_BYTES = 8 * 1024 * 1024

export class LogCsvKernel {
  private readonly memory = new WebAssembly.Memory({ initial: MEMORY_BYTES / PAGE_BYTES })
  private readonly exports: KernelExports
  /** Views of the kernel's memory, made again whenever it grows (growing detaches the old ones). */
  bytes!: Buffer
  i32!: Int32Array
  f64!: Float64Array

  constructor() {
    const module = new WebAssembly.Module(Buffer.from(LOG_CSV_KERNEL_WASM, 'base64'))
    this.exports = new WebAssembly.Instance(module, { kernel: { memory: this.memory } }).exports as unknown as KernelExports
    this.makeViews()
  }

  /** Bytes the memory holds now. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength
  }

  /** Makes the memory at least `size` bytes. */
  reserve(size: number): void {
    const have = this.memory.buffer.byteLength
    if (size <= have) return
    this.memory.grow(Math.ceil((size - have) / PAGE_BYTES))
    this.makeViews()
  }

  /** See `encodeRows` in logCsvKernel.wat; every argument is a byte offset in the memory except `from`, `to` (rows) and `delta`. */
  encodeRows(spans: number, lines: number, from: number, to: number, delta: number, sourceFile: number, sourceFileLength: number, out: number): number {
    return this.exports.encodeRows(spans, lines, from, to, delta, sourceFile, sourceFileLength, out)
  }

  private makeViews(): void {
    const buf = this.memory.buffer
    this.bytes = Buffer.from(buf)
    this.i32 = new Int32Array(buf)
    this.f64 = new Float64Array(buf)
  }
}

let kernel: LogCsvKernel | undefined

/** This thread's kernel. */
export function logCsvKernel(): LogCsvKernel {
  return (kernel ??= new LogCsvKernel())
}
