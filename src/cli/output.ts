import { once } from 'node:events'
import type { Writable } from 'node:stream'
import Table from 'cli-table3'
import { stringify } from 'csv-stringify/sync'

/** Writes respecting backpressure: waits for 'drain' when the stream's buffer is full. */
export async function writeOut(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain')
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
 * Prints a streamed result chunk by chunk. `table` prints one table per
 * chunk of up to 2,048 rows so a large result never sits in memory whole.
 */
export async function printResult(
  chunks: AsyncIterable<{ columns: string[]; rows: unknown[][] }>,
  format: QueryFormat,
  out: Writable,
): Promise<number> {
  let count = 0
  let headerDone = false
  for await (const { columns, rows } of chunks) {
    if (format === 'csv') {
      await writeOut(out, stringify(rows.map((r) => r.map(cell)), { header: !headerDone, columns }))
      headerDone = true
    } else if (format === 'json') {
      if (rows.length > 0) {
        const objects = rows.map((r) => JSON.stringify(Object.fromEntries(columns.map((c, i) => [c, jsonValue(r[i])]))))
        await writeOut(out, (count === 0 ? '[\n' : ',\n') + objects.join(',\n'))
      }
    } else if (rows.length > 0) {
      const table = new Table({ head: columns, style: { head: [], border: [] } })
      for (const r of rows) table.push(r.map(cell))
      await writeOut(out, table.toString() + '\n')
    }
    count += rows.length
  }
  if (format === 'json') await writeOut(out, count === 0 ? '[]\n' : '\n]\n')
  if (format === 'table') await writeOut(out, `(${count} row${count === 1 ? '' : 's'})\n`)
  return count
}
