import type { Config } from '../config.js'
import { BRONZE_LOG_REJECTS, BRONZE_LOGS, SOURCE_FILE_COLUMN } from '../load/bronzeSchema.js'
import { chunks } from '../load/loadLedger.js'
import { listObjects, type ObjectStore } from '../s3/objectStore.js'
import { isLogObject, LOGS_SOURCE, sourceFileOf } from '../sources/logObjects.js'
import type { Warehouse } from '../warehouse/warehouse.js'

export interface PrunedObject {
  key: string
  rows: number
  rejects: number
}

export interface PruneSummary {
  dryRun: boolean
  objectsListed: number
  /** Objects in the ledger (or the quarantine) that S3 no longer lists. */
  pruned: PrunedObject[]
  rows: number
  rejects: number
  /** Quarantine rows of vanished objects, removed too. */
  quarantined: number
}

const KEYS_PER_STATEMENT = 1000

/**
 * `careplus prune-logs`: the bronze rows and ledger rows of log objects that
 * were deleted from S3 (a retention policy, a cleanup), removed in one
 * transaction; `dryRun` only says what would go. Never run by the pipeline
 * itself: a listing that comes back short (a wrong prefix, a permissions
 * change) must not delete bronze.
 */
export async function pruneLogs(opts: { cfg: Config; store: ObjectStore; warehouse: Warehouse; dryRun: boolean; signal?: AbortSignal }): Promise<PruneSummary> {
  const { cfg, store, warehouse: wh, signal } = opts
  await wh.migrate()
  const listed = new Set<string>()
  let objectsListed = 0
  for await (const o of listObjects(store, cfg.S3_LOGS_PREFIX, signal)) {
    objectsListed++
    if (isLogObject(o.key)) listed.add(sourceFileOf(o))
  }
  const ledger = await wh.query('SELECT object_key, rows_loaded, rejects FROM ops.load_ledger WHERE source = ? ORDER BY object_key', [LOGS_SOURCE])
  const pruned = ledger.filter((r) => !listed.has(String(r.object_key))).map((r) => ({ key: String(r.object_key), rows: Number(r.rows_loaded), rejects: Number(r.rejects) }))
  const failures = (await wh.query('SELECT object_key FROM ops.load_failures WHERE source = ?', [LOGS_SOURCE])).map((r) => String(r.object_key)).filter((k) => !listed.has(k))
  const summary: PruneSummary = {
    dryRun: opts.dryRun,
    objectsListed,
    pruned,
    rows: pruned.reduce((n, p) => n + p.rows, 0),
    rejects: pruned.reduce((n, p) => n + p.rejects, 0),
    quarantined: failures.length,
  }
  if (opts.dryRun || (pruned.length === 0 && failures.length === 0)) return summary
  signal?.throwIfAborted()
  await wh.transaction(async (tx) => {
    const deleted = { rows: 0, rejects: 0 }
    for (const keys of chunks(pruned.map((p) => p.key), KEYS_PER_STATEMENT)) {
      const list = keys.map(() => '?').join(', ')
      deleted.rows += await tx.run(`DELETE FROM ${BRONZE_LOGS.name} WHERE ${SOURCE_FILE_COLUMN} IN (${list})`, keys)
      deleted.rejects += await tx.run(`DELETE FROM ${BRONZE_LOG_REJECTS.name} WHERE ${SOURCE_FILE_COLUMN} IN (${list})`, keys)
      await tx.run(`DELETE FROM ops.load_ledger WHERE source = ? AND object_key IN (${list})`, [LOGS_SOURCE, ...keys])
    }
    for (const keys of chunks(failures, KEYS_PER_STATEMENT)) {
      await tx.run(`DELETE FROM ops.load_failures WHERE source = ? AND object_key IN (${keys.map(() => '?').join(', ')})`, [LOGS_SOURCE, ...keys])
    }
    // The ledger's counts are what the rows were when they loaded; a difference means bronze was edited by hand.
    summary.rows = deleted.rows
    summary.rejects = deleted.rejects
  })
  return summary
}

export function formatPruneSummary(s: PruneSummary): string {
  const verb = s.dryRun ? 'would remove' : 'removed'
  const lines = [`prune-logs${s.dryRun ? ' (dry run: nothing removed)' : ''}: ${s.objectsListed} objects listed, ${s.pruned.length} in the ledger no longer are`]
  for (const p of s.pruned) lines.push(`  ${verb} ${p.key}: ${p.rows} rows, ${p.rejects} rejects`)
  lines.push(`${verb} ${s.rows} rows and ${s.rejects} rejects of ${s.pruned.length} objects${s.quarantined > 0 ? `, and ${s.quarantined} quarantine entries` : ''}`)
  return lines.join('\n') + '\n'
}
