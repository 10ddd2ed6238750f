/**
 * Where staged files go on the stage, decided here only. Every load has a
 * folder of its own under `<S3_STAGE_PREFIX><source>/<runId>/`, so a staged
 * name is never reused: a COPY never meets a file Snowflake's load metadata
 * remembers, and a run that never committed leaves a folder that can be told
 * apart from committed ones by its run id. No part of a path comes from
 * source data (object keys can hold spaces, quotes, `@` or non-ASCII), so
 * every stage path is a plain one.
 *
 *   stage/logs/<runId>/batch-00001/rows/part-00000.csv.gz
 *   stage/logs/<runId>/batch-00001/rejects/part-00000.csv.gz
 *   stage/tickets/<runId>/part-00000.csv.gz
 */
export type StagedSource = 'logs' | 'tickets'

/** Run ids are `20261126T173700Z-1a2b3c` (src/runId.ts): plain path characters only. */
const RUN_ID = /^[0-9A-Za-z-]+$/

/** Every staged file of a source is under this folder. */
export function stageRoot(stagePrefix: string, source: StagedSource): string {
  return `${stagePrefix}${source}/`
}

function runFolder(stagePrefix: string, source: StagedSource, runId: string): string {
  if (!RUN_ID.test(runId)) throw new Error(`invalid run id for a stage path: ${JSON.stringify(runId)}`)
  return `${stageRoot(stagePrefix, source)}${runId}/`
}

/** The folders of one log load batch: its `bronze.logs` files and its `bronze.log_rejects` files. */
export function logBatchFolders(stagePrefix: string, runId: string, batch: number): { rows: string; rejects: string } {
  const folder = `${runFolder(stagePrefix, 'logs', runId)}batch-${String(batch).padStart(5, '0')}/`
  return { rows: `${folder}rows/`, rejects: `${folder}rejects/` }
}

/** The folder of one ticket extraction's files. */
export function ticketRunFolder(stagePrefix: string, runId: string): string {
  return runFolder(stagePrefix, 'tickets', runId)
}
