import { once } from 'node:events'
import type { Writable } from 'node:stream'
import Table from 'cli-table3'
import { stringify } from 'csv-stringify/sync'

/**
 * Writes respecting backpressure: waits for 'drain' when the stream's buffer
 * is full; rejects when the stream closes first (a client that went away
 * never drains, and its writer must not wait forever).
 */
export async function writeOut(out: Writable, text: string): Promise<void> {
  if (out.destroyed) throw new Error('the output stream is closed')
  if (out.write(text)) return
  const ac = new AbortController()
  try {
    await Promise.race([
      once(out, 'drain', { signal: ac.signal }),
      once(out, 'close', { signal: ac.signal }).then(() => {
        throw new Error('the output stream closed before it drained')
      }),
    ])
  } finally {
    ac.abort()
  }
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return ''
  if (v instanceof Date) return v.toISOString()
  if (typeof v === 'object') return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))
  return String(v)
}

function jsonValue(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString()
  if (typeof v === 'bigint') return v.toString()
  return v
}

export type QueryFormat = 'table' | 'csv' | 'json'

/**
 * The most rows a `table` shows. A table is sized to its widest cell, so it
 * is drawn from the whole result at once; past this many rows the rest are
 * counted, not kept, and the footer says to use csv or json for all of them.
 */
export const TABLE_ROW_LIMIT = 10_000

/**
 * Prints a streamed result. `csv` (a header, then rows) and `json` (one JSON
 * array, one row object per line) are written chunk by chunk, so a result of
 * any size streams through in bounded memory. `table` is one table for the
 * whole result, buffered up to {@link TABLE_ROW_LIMIT} rows, then a
 * `(N rows)` footer.
 */
export async function printResult(
  chunks: AsyncIterable<{ columns: string[]; rows: unknown[][] }>,
  format: QueryFormat,
  out: Writable,
): Promise<number> {
  let count = 0
  let headerDone = false
  let head: string[] | undefined
  const shown: string[][] = []
  for await (const { columns, rows } of chunks) {
    if (format === 'csv') {
      await writeOut(out, stringify(rows.map((r) => r.map(cell)), { header: !headerDone, columns }))
      headerDone = true
    } else if (format === 'json') {
      if (rows.length > 0) {
        const objects = rows.map((r) => JSON.stringify(Object.fromEntries(columns.map((c, i) => [c, jsonValue(r[i])]))))
        await writeOut(out, (count === 0 ? '[\n' : ',\n') + objects.join(',\n'))
      }
    } else {
      head ??= columns
      for (const r of rows) {
        if (shown.length >= TABLE_ROW_LIMIT) break
        shown.push(r.map(cell))
      }
    }
    count += rows.length
  }
  if (format === 'json') await writeOut(out, count === 0 ? '[]\n' : '\n]\n')
  if (format === 'table') {
    if (shown.length > 0) {
      const table = new Table({ head: head!, style: { head: [], border: [] } })
      table.push(...shown)
      await writeOut(out, table.toString() + '\n')
    }
    const rowsWord = `${count.toLocaleString('en-US')} row${count === 1 ? '' : 's'}`
    await writeOut(
      out,
      count > shown.length
        ? `(${rowsWord}; the first ${shown.length.toLocaleString('en-US')} shown: use --format csv or json for all of them)\n`
        : `(${rowsWord})\n`,
    )
  }
  return count
}
