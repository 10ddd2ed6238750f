import type { Warehouse, WarehouseTx } from '../warehouse/warehouse.js'
import { chunks } from './loadLedger.js'

/**
 * The quarantine (ops.load_failures): source objects that failed to load, by
 * version. Written and cleared by commitLoad, in the transaction of the batch
 * the object failed or loaded in.
 */
export interface QuarantinedObject {
  key: string
  etag: string
  sizeBytes: number
  /** The error's code, e.g. ERR_OBJECT_CORRUPT. */
  code: string
  reason: string
  /** Runs that failed on this version. */
  attempts: number
  runId: string
  firstFailedAt: string
  lastFailedAt: string
}

export async function quarantinedObjects(wh: Warehouse, source: string): Promise<Map<string, QuarantinedObject>> {
  const rows = await wh.query(
    `SELECT object_key, etag, size_bytes, code, reason, attempts, run_id, CAST(first_failed_at AS VARCHAR) AS first_failed_at, CAST(last_failed_at AS VARCHAR) AS last_failed_at
     FROM ops.load_failures WHERE source = ? ORDER BY object_key`,
    [source],
  )
  return new Map(
    rows.map((r) => [
      String(r.object_key),
      {
        key: String(r.object_key),
        etag: String(r.etag),
        sizeBytes: Number(r.size_bytes),
        code: String(r.code),
        reason: String(r.reason),
        attempts: Number(r.attempts),
        runId: String(r.run_id),
        firstFailedAt: String(r.first_failed_at),
        lastFailedAt: String(r.last_failed_at),
      },
    ]),
  )
}

/** Every source's quarantined objects, for `careplus failures`. */
export async function allQuarantined(wh: Warehouse): Promise<Array<QuarantinedObject & { source: string }>> {
  const rows = await wh.query('SELECT DISTINCT source FROM ops.load_failures ORDER BY source')
  const out: Array<QuarantinedObject & { source: string }> = []
  for (const r of rows) for (const q of (await quarantinedObjects(wh, String(r.source))).values()) out.push({ source: String(r.source), ...q })
  return out
}

const COLUMNS = 'source, object_key, etag, size_bytes, code, reason, attempts, run_id, first_failed_at, last_failed_at'
const ROWS_PER_INSERT = 100

/** Replaces the quarantine rows of `keys` (loaded, or failing again) with `failed`'s, in the caller's transaction. */
export async function recordQuarantine(tx: WarehouseTx, source: string, keys: readonly string[], failed: readonly QuarantinedObject[], signal?: AbortSignal): Promise<void> {
  for (const part of chunks(keys, 1000)) {
    await tx.run(`DELETE FROM ops.load_failures WHERE source = ? AND object_key IN (${part.map(() => '?').join(', ')})`, [source, ...part], signal)
  }
  for (const part of chunks(failed, ROWS_PER_INSERT)) {
    const values = part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP))').join(', ')
    const params = part.flatMap((f) => [source, f.key, f.etag, f.sizeBytes, f.code, f.reason, f.attempts, f.runId, f.firstFailedAt, f.lastFailedAt])
    await tx.run(`INSERT INTO ops.load_failures (${COLUMNS}) VALUES ${values}`, params, signal)
  }
}
