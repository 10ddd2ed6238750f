import type { StagedFile } from '../../sinks/stageWriter.js'
import { PipelineError } from '../errors.js'
import type { Warehouse } from '../warehouse/warehouse.js'

/**
 * The load ledger: which version (ETag) of each source object is in bronze.
 * An object's ledger row is written in the same transaction as its rows, so
 * the ledger never claims a load that did not commit, and a load never
 * commits without its ledger row.
 */
export async function loadedVersions(wh: Warehouse, source: string): Promise<Map<string, string>> {
  const rows = await wh.query('SELECT object_key, etag FROM ops.load_ledger WHERE source = ?', [source])
  return new Map(rows.map((r) => [String(r.object_key), String(r.etag)]))
}

export interface StagedTable {
  table: string
  csvColumns: readonly string[]
  files: StagedFile[]
  /** Rows the run staged: the COPY must load exactly these. */
  rows: number
}

export interface ObjectLoad {
  source: string
  objectKey: string
  etag: string
  sizeBytes: number
  blocks: number
  runId: string
  /** Column in each target that names the source object; its earlier rows are replaced. */
  sourceColumn: string
  targets: StagedTable[]
}

/**
 * Replaces one source object's rows in bronze with the staged files of its
 * current version, reconciles the loaded counts with the staged ones, and
 * records the version, all in one transaction.
 */
export async function commitObjectLoad(wh: Warehouse, load: ObjectLoad, signal?: AbortSignal): Promise<number[]> {
  const loadedAt = new Date().toISOString().replace('T', ' ').replace('Z', '')
  return wh.transaction(async (tx) => {
    const loaded: number[] = []
    for (const target of load.targets) {
      await tx.run(`DELETE FROM ${target.table} WHERE ${load.sourceColumn} = ?`, [load.objectKey])
      const n = await tx.copyFromStage(
        {
          table: target.table,
          csvColumns: target.csvColumns,
          files: target.files.map((f) => f.key),
          constants: { _loaded_at: loadedAt, _run_id: load.runId },
          // The object's earlier rows were deleted just above: load these files whatever the engine remembers.
          force: true,
        },
        signal,
      )
      if (n !== target.rows) {
        throw new PipelineError(
          'ERR_LOAD_RECONCILE',
          `${target.table}: staged ${target.rows} rows of ${load.objectKey} but COPY loaded ${n}; nothing was committed`,
        )
      }
      loaded.push(n)
    }
    signal?.throwIfAborted()
    await tx.run('DELETE FROM ops.load_ledger WHERE source = ? AND object_key = ?', [load.source, load.objectKey])
    await tx.run(
      `INSERT INTO ops.load_ledger (source, object_key, etag, size_bytes, blocks, rows_loaded, rejects, staged_files, run_id, loaded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP))`,
      [
        load.source,
        load.objectKey,
        load.etag,
        load.sizeBytes,
        load.blocks,
        loaded[0] ?? 0,
        loaded.slice(1).reduce((a, b) => a + b, 0),
        JSON.stringify(load.targets.flatMap((t) => t.files.map((f) => f.key))),
        load.runId,
        loadedAt,
      ],
    )
    return loaded
  })
}
