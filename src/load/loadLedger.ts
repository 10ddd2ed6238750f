import type { Warehouse, WarehouseTx } from '../warehouse/warehouse.js'

/**
 * The load ledger (ops.load_ledger): which version (ETag) of each source
 * object is in bronze. An object's ledger row is written in the same
 * transaction as its rows (commitLoad), so the ledger never claims a load
 * that did not commit, and a load never commits without its ledger row.
 */
export async function loadedVersions(wh: Warehouse, source: string): Promise<Map<string, string>> {
  const rows = await wh.query('SELECT object_key, etag FROM ops.load_ledger WHERE source = ?', [source])
  return new Map(rows.map((r) => [String(r.object_key), String(r.etag)]))
}

/** One source object (a log object; a ticket extraction) as the ledger records it. */
export interface LedgerEntry {
  key: string
  /** The version loaded: the object's ETag; for an extraction, the cursor value it reached. */
  etag: string
  sizeBytes: number
  /** What the source held: log blocks, or ticket rows read. */
  blocks: number
  rows: number
  rejects: number
  stagedFiles: readonly string[]
}

const LEDGER_COLUMNS = 'source, object_key, etag, size_bytes, blocks, rows_loaded, rejects, staged_files, run_id, loaded_at'
/** Rows per multi-row INSERT: 10 binds a row, well inside what both engines take in one statement. */
const ROWS_PER_INSERT = 200

/** Replaces the ledger rows of `entries` (one per object), in the caller's transaction. */
export async function recordLoads(tx: WarehouseTx, source: string, runId: string, loadedAt: string, entries: readonly LedgerEntry[], replaced: readonly string[], signal?: AbortSignal): Promise<void> {
  for (const keys of chunks(replaced, ROWS_PER_INSERT)) {
    await tx.run(`DELETE FROM ops.load_ledger WHERE source = ? AND object_key IN (${keys.map(() => '?').join(', ')})`, [source, ...keys], signal)
  }
  for (const part of chunks(entries, ROWS_PER_INSERT)) {
    const values = part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP))').join(', ')
    const params = part.flatMap((e) => [source, e.key, e.etag, e.sizeBytes, e.blocks, e.rows, e.rejects, JSON.stringify(e.stagedFiles), runId, loadedAt])
    await tx.run(`INSERT INTO ops.load_ledger (${LEDGER_COLUMNS}) VALUES ${values}`, params, signal)
  }
}

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
