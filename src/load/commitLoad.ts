/**
 * Staged files → committed bronze, for every source: the one place a load
 * becomes visible. In the caller's transaction (`warehouse.transaction(tx =>
 * commitLoad(tx, …))`) it
 *   1. deletes the earlier rows of the objects whose content changed (and
 *      only those: a new object has nothing to delete),
 *   2. COPYs each target table's staged files, one COPY per table for the
 *      whole load, and checks COPY loaded exactly the rows staged,
 *   3. reconciles each source object in bronze itself (logs: its rows and
 *      rejects counted by `_source_file` equal what it staged, and add up to
 *      its blocks),
 *   4. records one ledger row per object and moves the watermark, if any;
 *   5. quarantines the objects that failed mid-stream: their rows from this
 *      run (the part staged before the failure) are deleted again, and their
 *      failure is recorded in ops.load_failures, while an object that loads
 *      leaves the quarantine. A failed object's earlier version, if any,
 *      stays in bronze and in the ledger.
 * Any mismatch throws, so the transaction rolls back and nothing of the load
 * commits; the ledger and watermark move only with the rows they describe.
 */
import { PipelineError } from '../errors.js'
import type { WarehouseTx } from '../warehouse/warehouse.js'
import { loadConstants, SOURCE_FILE_COLUMN, type BronzeTable, type LoadContext } from './bronzeSchema.js'
import { recordQuarantine, type QuarantinedObject } from './loadFailures.js'
import { chunks, recordLoads, type LedgerEntry } from './loadLedger.js'
import { writeWatermark } from './watermarks.js'

export interface StagedTarget {
  table: BronzeTable
  /** Stage keys of the files to load. */
  files: readonly string[]
  /** Rows staged into those files: the COPY must load exactly these. */
  rows: number
}

export interface LoadCommit {
  /** The ledger's source name (`logs`, `tickets`). */
  source: string
  ctx: LoadContext
  targets: readonly StagedTarget[]
  /** One ledger row each. */
  objects: readonly LedgerEntry[]
  /** Keys of objects whose earlier version is in bronze: their old rows are deleted (by `_source_file`) and their ledger rows replaced. */
  replace?: readonly string[]
  /** Count each object's rows and rejects in these tables by `_source_file` (the log tables). */
  reconcileBySourceFile?: { rows: BronzeTable; rejects: BronzeTable }
  watermark?: { cursorColumn: string; value: string }
  /** Objects of this load that failed part-way (or changed while read): the rows they staged before are not kept. */
  discard?: readonly string[]
  /** Their failures to quarantine (those not to be retried silently). */
  failed?: readonly QuarantinedObject[]
  /** Loaded objects the quarantine held a failure of: their rows there go. */
  unquarantine?: readonly string[]
}

/** `IN (…)` lists of at most this many keys per statement. */
const KEYS_PER_STATEMENT = 1000

/** Returns the rows kept in each target, in order. */
export async function commitLoad(tx: WarehouseTx, load: LoadCommit, signal?: AbortSignal): Promise<number[]> {
  const replace = load.replace ?? []
  for (const target of load.targets) {
    for (const keys of chunks(replace, KEYS_PER_STATEMENT)) {
      await tx.run(`DELETE FROM ${target.table.name} WHERE ${SOURCE_FILE_COLUMN} IN (${keys.map(() => '?').join(', ')})`, keys, signal)
    }
  }

  const loaded: number[] = []
  for (const target of load.targets) {
    const n = await tx.copyFromStage(
      { table: target.table.name, csvColumns: target.table.csvColumns, files: target.files, constants: loadConstants(target.table, load.ctx) },
      signal,
    )
    if (n !== target.rows) {
      throw new PipelineError('ERR_LOAD_RECONCILE', `${target.table.name}: staged ${target.rows} rows but COPY loaded ${n}; nothing was committed`)
    }
    loaded.push(n)
  }

  for (const target of load.targets) {
    if (target.rows === 0) continue
    for (const part of chunks(load.discard ?? [], KEYS_PER_STATEMENT)) {
      const n = await tx.run(`DELETE FROM ${target.table.name} WHERE _run_id = ? AND ${SOURCE_FILE_COLUMN} IN (${part.map(() => '?').join(', ')})`, [load.ctx.runId, ...part], signal)
      loaded[load.targets.indexOf(target)]! -= n
    }
  }

  if (load.reconcileBySourceFile) await reconcileBySourceFile(tx, load.ctx.runId, load.objects, load.reconcileBySourceFile, signal)

  signal?.throwIfAborted()
  await recordLoads(tx, load.source, load.ctx.runId, load.ctx.loadedAt, load.objects, replace, signal)
  if (load.watermark) await writeWatermark(tx, load.source, load.watermark.cursorColumn, load.watermark.value, load.ctx.runId, load.ctx.loadedAt, signal)
  const failed = load.failed ?? []
  const unquarantine = load.unquarantine ?? []
  if (failed.length > 0 || unquarantine.length > 0) await recordQuarantine(tx, load.source, [...unquarantine, ...failed.map((f) => f.key)], failed, signal)
  return loaded
}

/** Each object's rows and rejects in bronze, as loaded by this run, equal what it staged and add up to its blocks. */
async function reconcileBySourceFile(tx: WarehouseTx, runId: string, objects: readonly LedgerEntry[], tables: { rows: BronzeTable; rejects: BronzeTable }, signal?: AbortSignal): Promise<void> {
  const rows = await countBySourceFile(tx, tables.rows, runId, objects, (o) => o.rows, signal)
  const rejects = await countBySourceFile(tx, tables.rejects, runId, objects, (o) => o.rejects, signal)
  for (const o of objects) {
    const r = rows.get(o.key) ?? 0
    const j = rejects.get(o.key) ?? 0
    if (r !== o.rows || j !== o.rejects || r + j !== o.blocks) {
      throw new PipelineError(
        'ERR_LOAD_RECONCILE',
        `${o.key}: ${o.blocks} blocks, staged ${o.rows} rows + ${o.rejects} rejects, but bronze holds ${r} rows + ${j} rejects of it; nothing was committed`,
      )
    }
  }
}

async function countBySourceFile(tx: WarehouseTx, table: BronzeTable, runId: string, objects: readonly LedgerEntry[], staged: (o: LedgerEntry) => number, signal?: AbortSignal): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  // Nothing staged for this table: COPY loaded nothing (checked) and the replaced rows were deleted, so every count is 0.
  if (!objects.some((o) => staged(o) > 0)) return counts
  for (const part of chunks(objects, KEYS_PER_STATEMENT)) {
    const rows = await tx.query(
      `SELECT ${SOURCE_FILE_COLUMN} AS source_file, count(*) AS n FROM ${table.name}
       WHERE _run_id = ? AND ${SOURCE_FILE_COLUMN} IN (${part.map(() => '?').join(', ')}) GROUP BY ${SOURCE_FILE_COLUMN}`,
      [runId, ...part.map((o) => o.key)],
      signal,
    )
    for (const r of rows) counts.set(String(r.source_file), Number(r.n))
  }
  return counts
}
