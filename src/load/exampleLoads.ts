/**
 * One representative load per bronze table, built as the ingests build
 * theirs (the same schema, layout and constants): what `careplus compile`
 * prints as each engine's COPY.
 */
import { DEFAULTS } from '../config.js'
import type { CopySpec } from '../warehouse/warehouse.js'
import { BRONZE_LOG_REJECTS, BRONZE_LOGS, BRONZE_TICKETS, loadConstants, type LoadContext } from './bronzeSchema.js'
import { logBatchFolders, ticketRunFolder } from './stageLayout.js'

export const EXAMPLE_LOAD: LoadContext = { runId: '20250801T020000Z-a1b2c3', loadedAt: '2025-08-01 02:00:05.000', extractedAt: '2025-08-01 02:00:01.000' }

export function exampleLoads(stagePrefix: string = DEFAULTS.S3_STAGE_PREFIX): Array<Pick<CopySpec, 'table' | 'csvColumns' | 'files' | 'constants'>> {
  const batch = logBatchFolders(stagePrefix, EXAMPLE_LOAD.runId, 1)
  const spec = (table: typeof BRONZE_LOGS | typeof BRONZE_LOG_REJECTS | typeof BRONZE_TICKETS, folder: string) => ({
    table: table.name,
    csvColumns: table.csvColumns,
    files: [`${folder}part-00000.csv.gz`],
    constants: loadConstants(table, EXAMPLE_LOAD),
  })
  return [spec(BRONZE_LOGS, batch.rows), spec(BRONZE_LOG_REJECTS, batch.rejects), spec(BRONZE_TICKETS, ticketRunFolder(stagePrefix, EXAMPLE_LOAD.runId))]
}
