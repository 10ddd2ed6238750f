import { deleteObjects, listObjects, type ObjectStore } from '../s3/objectStore.js'
import type { Warehouse } from '../warehouse/warehouse.js'
import { stageRoot, type StagedSource } from './stageLayout.js'

/**
 * Staged files no committed load refers to: what a killed or failed run of
 * `source` left on the stage (a batch staged, its transaction never
 * committed). An ingest removes them when it starts, before staging its own,
 * and never touches a file a ledger row names (the ledger is written with
 * the rows, so a file it names is a committed load's). Safe because one
 * ingest of a source runs at a time: the daemon never overlaps runs, and
 * DuckDB admits one process.
 */
export async function removeStageLeftovers(
  store: ObjectStore,
  warehouse: Warehouse,
  opts: { stagePrefix: string; source: StagedSource; currentRunId: string; signal?: AbortSignal },
): Promise<string[]> {
  const committed = new Set<string>()
  const rows = await warehouse.query('SELECT DISTINCT staged_files FROM ops.load_ledger WHERE source = ?', [opts.source])
  for (const r of rows) for (const key of JSON.parse(String(r.staged_files)) as string[]) committed.add(key)
  const root = stageRoot(opts.stagePrefix, opts.source)
  const current = `${root}${opts.currentRunId}/`
  const leftovers: string[] = []
  for await (const o of listObjects(store, root, opts.signal)) {
    if (!committed.has(o.key) && !o.key.startsWith(current)) leftovers.push(o.key)
  }
  await deleteObjects(store, leftovers, opts.signal)
  return leftovers
}
