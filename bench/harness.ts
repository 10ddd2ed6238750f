/**
 * What every benchmark case shares: the input it reads, how it reports, and
 * the small sinks that end a measured pipeline without doing work of their own.
 */
import { createReadStream, type ReadStream } from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import type { LogBatch } from '../parsers/logBatch.js'

/** A generated log file and what the generator says it holds. */
export interface BenchInput {
  file: string
  bytes: number
  /** Blocks written by the generator, duplicates included. */
  events: number
}

export interface CaseContext {
  input: BenchInput
  /** A fresh folder for this run of the case (deleted afterwards). */
  workDir: string
}

/** One timed run, as the case saw it. */
export interface Measurement {
  bytes: number
  events: number
  seconds: number
  /** A case that reads part of the input (and checks it loaded exactly that part) says which part. */
  expected?: { bytes: number; events: number }
  /** Load batches committed, for the cases that ingest. */
  batches?: number
  /** Compressed bytes written to the stage, for the cases that stage. */
  staged_bytes?: number
  /** The peak RSS of the process the case measured, when that is not the case's own (bench/childProcess.ts). */
  peak_rss_mib?: number
  /** The peak RSS of the warehouse's own process, for the cases that ingest as the CLI does (src/warehouse/warehouseProcess.ts). */
  warehouse_peak_rss_mib?: number
}

export interface BenchCase {
  /** Set-up that must not count towards the run: done in a process of its own, before it. */
  prepare?(ctx: CaseContext): Promise<void>
  /** The measured work; each case times its own hot section. */
  run(ctx: CaseContext): Promise<Measurement>
}

/** Read size of every file-reading case: the CLI's `parse` reads 256 KiB at a time too. */
export const READ_CHUNK_BYTES = 256 * 1024

/** The object key the ingest would give the input (`_source_file` of its records, so CSV sizes match). */
export function sourceKey(input: BenchInput): string {
  return `logs/${path.basename(input.file)}`
}

export function openInput(file: string): ReadStream {
  return createReadStream(file, { highWaterMark: READ_CHUNK_BYTES })
}

/** Starts a clock; the returned function gives the seconds since. */
export function stopwatch(): () => number {
  const started = process.hrtime.bigint()
  return () => Number(process.hrtime.bigint() - started) / 1e9
}

/** Ends a byte or text stream, counting what arrives. */
export class DiscardSink extends Writable {
  length = 0

  constructor() {
    super({ decodeStrings: false })
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.length += chunk.length
    cb()
  }
}

/** Ends a parser's stream of batches, counting records and rejects. */
export class BatchSink extends Writable {
  events = 0

  constructor() {
    super({ objectMode: true })
  }

  override _write(batch: LogBatch, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.events += batch.rowCount + batch.rejects.length
    cb()
  }
}
