import t from 'tap'
import { logBatchFolders, ticketRunFolder } from '../../src/load/stageLayout.js'
import { newRunId } from '../../src/runId.js'

t.test('stage folders: one per load, plain path characters only, nothing from source data', async (t) => {
  const runId = newRunId(new Date('2026-12-03T02:00:00Z'))
  const batch = logBatchFolders('stage/', runId, 7)
  t.match(batch.rows, new RegExp(`^stage/logs/${runId}/batch-00007/rows/$`))
  t.match(batch.rejects, new RegExp(`^stage/logs/${runId}/batch-00007/rejects/$`))
  t.not(logBatchFolders('stage/', runId, 8).rows, batch.rows, 'each batch has its own folder')
  t.equal(ticketRunFolder('stage/', runId), `stage/tickets/${runId}/`)
  for (const p of [batch.rows, batch.rejects, ticketRunFolder('', runId)]) t.match(p, /^[A-Za-z0-9_./-]+$/)
  t.throws(() => logBatchFolders('stage/', "r'1 @x", 1), /invalid run id/)
})
