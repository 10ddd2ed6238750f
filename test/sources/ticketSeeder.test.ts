import t from 'tap'
import { seedTickets } from '../../src/sources/ticketSeeder.js'
import { MYSQL, testDatabase } from '../support/mysql.js'

t.test('generate --tickets: creates the table, seed-shaped rows with the seed dirt, idempotent', async (t) => {
  const { database, q } = await testDatabase(t)
  const first = await seedTickets({ ...MYSQL, database })
  t.match(first, { planned: 810, inserted: 810 })
  const again = await seedTickets({ ...MYSQL, database })
  t.match(again, { planned: 810, inserted: 0 }, 'running again inserts nothing')

  const cols = await q<{ COLUMN_NAME: string; DATA_TYPE: string }>(
    'SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [database, 'support_tickets'],
  )
  t.same(
    cols.map((c) => c.COLUMN_NAME),
    ['ticket_id', 'created_at', 'resolved_at', 'agent', 'priority', 'num_interactions', 'IssUeCat', 'channel', 'status', 'agent_feedback'],
  )
  t.ok(cols.every((c) => c.DATA_TYPE === 'text'), 'every column is text, as in the seed')

  const [stats] = await q<Record<string, number>>(`SELECT
      count(*) AS n,
      sum(created_at LIKE '2025-07-%') AS july,
      sum(priority IN ('Lw','Medum','Hgh')) AS dirty_priority,
      sum(num_interactions = '-999999') AS bad_interactions,
      sum(resolved_at IS NULL) AS open_null,
      sum(resolved_at IS NULL AND status = 'Open') AS open_status,
      sum(agent_feedback LIKE '%"%') AS quotes,
      sum(agent_feedback LIKE '%\n%') AS newlines,
      sum(agent_feedback LIKE '%,%') AS commas,
      sum(agent_feedback = '') AS empty,
      sum(agent_feedback IS NULL) AS nulls,
      sum(agent_feedback <> CONVERT(agent_feedback USING ascii)) AS non_ascii
    FROM support_tickets`)
  t.equal(Number(stats!.n), 810)
  t.equal(Number(stats!.july), 810)
  for (const k of ['dirty_priority', 'bad_interactions', 'open_null', 'quotes', 'newlines', 'commas', 'empty', 'nulls', 'non_ascii']) {
    t.ok(Number(stats![k]) > 0, `${k}: ${stats![k]}`)
  }
  t.equal(Number(stats!.open_status), Number(stats!.open_null), 'open tickets have NULL resolved_at')
})
