import t from 'tap'
import { ingestTickets } from '../../../src/pipelines/ingestTickets.js'
import { seedTickets } from '../../../src/sources/ticketSeeder.js'
import { runTransforms } from '../../../src/transform/runTransforms.js'
import { MYSQL, mysqlEnv, testDatabase } from '../../support/mysql.js'
import { testRuntime } from '../../support/runtime.js'

const COLS = ['ticket_id', 'created_at', 'resolved_at', 'agent', 'priority', 'num_interactions', 'IssUeCat', 'channel', 'status', 'agent_feedback']

t.test("a ticket open with resolved_at = '' gets its resolution: bronze, then gold", async (t) => {
  const { database, q } = await testDatabase(t)
  const rt = await testRuntime(t, mysqlEnv(database))
  await seedTickets({ ...MYSQL, database })
  // Early in the month, so once loaded it sits below the watermark: only the open-ticket recheck reads it again.
  await q(`INSERT INTO support_tickets (${COLS.join(', ')}) VALUES (?)`, [['TCK0701999', '2025-07-01 08:00:00', '', 'Ann', 'High', '2', 'Billing', 'Chat', 'Open', 'blank, not NULL']])
  const run = () => ingestTickets({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  const gold = async () => rt.warehouse.query("SELECT is_open, CAST(resolved_at AS VARCHAR) AS resolved_at, status FROM gold.fct_tickets WHERE ticket_id = 'TCK0701999'")

  const first = await run()
  t.equal(first.rows, 811)
  await runTransforms({ warehouse: rt.warehouse })
  t.same(await gold(), [{ is_open: true, resolved_at: null, status: 'Open' }], 'gold: open, as silver reads a blank resolved_at')

  const idle = await run()
  t.equal(idle.rows, 0, 'unchanged: nothing appended')
  t.ok(idle.openTicketsRechecked >= 1, 'the blank-resolved ticket is among the open tickets rechecked')

  await q("UPDATE support_tickets SET resolved_at = '2025-07-02 09:30:00', status = 'Resolved' WHERE ticket_id = 'TCK0701999'")
  const second = await run()
  t.match(second, { rows: 1, changedTickets: 1, newTickets: 0 })
  t.same(
    await rt.warehouse.query("SELECT resolved_at, status FROM bronze.tickets WHERE ticket_id = 'TCK0701999' ORDER BY _extracted_at"),
    [
      { resolved_at: '', status: 'Open' },
      { resolved_at: '2025-07-02 09:30:00', status: 'Resolved' },
    ],
    'bronze: the resolution arrives as a new version',
  )
  await runTransforms({ warehouse: rt.warehouse })
  t.same(await gold(), [{ is_open: false, resolved_at: '2025-07-02 09:30:00', status: 'Resolved' }], 'gold: resolved')
})
