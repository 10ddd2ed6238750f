/** What the parser tests share: the log fixtures and the pure core run over chunks. */
import { readFileSync } from 'node:fs'
import { BlockParser, type BlockParserOptions, type BlockParserStats } from '../../parsers/blockParser.js'
import type { ParseBatch } from '../../parsers/logRecord.js'

/** test/fixtures/logs/. */
export const FIXTURES = new URL('../fixtures/logs/', import.meta.url)

/** A file of test/fixtures/logs/. */
export const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES))

export interface Parsed extends ParseBatch {
  stats: BlockParserStats
}

/** Parse `chunks` in order with one parser (source file `test.log` unless given); concatenates every batch. */
export function parseChunks(chunks: Iterable<Uint8Array>, opts: Partial<BlockParserOptions> = {}): Parsed {
  const parser = new BlockParser({ sourceFile: 'test.log', ...opts })
  const out = parser.newBatch()
  for (const chunk of chunks) parser.push(chunk, out)
  parser.end(out)
  return { rows: out.rows, rejects: out.rejects, stats: { ...parser.stats } }
}

/** The records and rejects of `input` parsed in one push: the reference for chunked and streamed parses. */
export function coreParse(input: Uint8Array, sourceFile: string): ParseBatch {
  const { rows, rejects } = parseChunks([input], { sourceFile })
  return { rows, rejects }
}

/** `input` cut into `size`-byte slices (the last may be shorter). */
export function slices<T extends Uint8Array>(input: T, size: number): T[] {
  const out: T[] = []
  for (let i = 0; i < input.length; i += size) out.push(input.subarray(i, i + size) as T)
  return out
}
