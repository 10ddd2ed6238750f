import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { ingestTickets } from '../../src/pipelines/ingestTickets.js'
import { formatIngestTicketsSummary } from '../../src/cli/summaries.js'
import { seedTickets } from '../../src/sources/ticketSeeder.js'
import { TICKET_SOURCE_COLUMNS } from '../../src/sources/tickets/schema.js'
import { MYSQL, mysqlEnv, testDatabase } from '../support/mysql.js'
import { testRuntime } from '../support/runtime.js'

/** `YYYY-MM-DD HH:MM:SS`, `hours` before `ts`. */
function hoursBefore(ts: string, hours: number): string {
  return new Date(Date.parse(ts.replace(' ', 'T') + 'Z') - hours * 3_600_000).toISOString().slice(0, 19).replace('T', ' ')
}

const ticket = (id: string, createdAt: string | null, feedback = 'late'): Array<string | null> => [id, createdAt, null, 'Ann', 'Low', '1', 'Billing', 'Chat', 'Open', feedback]

t.test('late rows: within TICKETS_LOOKBACK they arrive, NULL cursors every run, older ones are counted; --full-refresh loads those; nothing twice', async (t) => {
  const { database, q } = await testDatabase(t)
  const rt = await testRuntime(t, mysqlEnv(database))
  t.equal(rt.cfg.TICKETS_LOOKBACK, 2 * 86_400_000, 'the default window is 2 days')
  await seedTickets({ ...MYSQL, database })
  const run = (extra: { fullRefresh?: boolean } = {}) => ingestTickets({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse, ...extra })
  const n = async (sql: string) => Number(Object.values((await rt.warehouse.query(sql))[0]!)[0])
  const insert = (rows: Array<Array<string | null>>) => q(`INSERT INTO support_tickets (${TICKET_SOURCE_COLUMNS.join(', ')}) VALUES ?`, [rows])

  const first = await run()
  t.match(first, { rows: 810, windowFrom: null, fullRefresh: true, missedBeforeWindow: 0 })
  const w = first.watermarkTo!

  // Committed after the first run, but created before its watermark: 1,000 within the window (1 to 40 h before it),
  // 300 ten days before it, 10 with no created_at at all.
  const late = Array.from({ length: 1000 }, (_, i) => ticket(`TCKW${String(i).padStart(6, '0')}`, hoursBefore(w, 1 + (i % 40))))
  const old = Array.from({ length: 300 }, (_, i) => ticket(`TCKO${String(i).padStart(6, '0')}`, hoursBefore(w, 240)))
  const nulls = Array.from({ length: 10 }, (_, i) => ticket(`TCKN${String(i).padStart(6, '0')}`, null))
  await insert([...late, ...old, ...nulls])
  const oldDay = hoursBefore(w, 240).slice(0, 10)

  const second = await run()
  t.match(second, {
    windowFrom: hoursBefore(w, 48),
    fullRefresh: false,
    rows: 1010,
    newTickets: 1010,
    changedTickets: 0,
    nullCursorRows: 10,
    missedBeforeWindow: 300,
    missedDays: [{ day: oldDay, tickets: 300 }],
    watermarkTo: w,
  })
  t.equal(await n("SELECT count(*) FROM bronze.tickets WHERE ticket_id LIKE 'TCKW%'"), 1000, 'every late ticket within the window')
  t.equal(await n("SELECT count(*) FROM bronze.tickets WHERE ticket_id LIKE 'TCKN%' AND created_at IS NULL AND _cursor_value IS NULL"), 10, 'every NULL-cursor ticket')
  t.equal(await n("SELECT count(*) FROM bronze.tickets WHERE ticket_id LIKE 'TCKO%'"), 0, 'the old ones are not read…')
  t.match(formatIngestTicketsSummary(second), /MISSED {4}300 tickets before the window are in MySQL but not in bronze \(\d{4}-\d{2}-\d{2}: 300\); careplus ingest-tickets --full-refresh loads them/, '…but reported')

  // The next run reads the window and the NULLs again and loads none of them twice.
  const third = await run()
  t.match(third, { rows: 0, stagedFiles: 0, nullCursorRows: 10, missedBeforeWindow: 300 })
  t.ok(third.rowsUnchanged >= 1010, `${third.rowsUnchanged} rows re-read unchanged`)
  t.equal(await n('SELECT count(*) FROM bronze.tickets'), 1820)

  // A NULL-cursor ticket that changes is a new version; one more late ticket inside the window arrives.
  await q("UPDATE support_tickets SET resolved_at = '2025-08-01 00:00:00', status = 'Resolved' WHERE ticket_id = 'TCKN000003'")
  await insert([ticket('TCKW999999', hoursBefore(w, 47))])
  const fourth = await run()
  t.match(fourth, { rows: 2, newTickets: 1, changedTickets: 1, missedBeforeWindow: 300 })

  // --full-refresh reads the whole table: only the 300 missed tickets are new.
  const refresh = await run({ fullRefresh: true })
  t.match(refresh, { fullRefresh: true, windowFrom: null, rows: 300, newTickets: 300, changedTickets: 0, missedBeforeWindow: 0, watermarkTo: w })
  const sourceCount = Number((await q('SELECT count(*) AS n FROM support_tickets'))[0]!.n)
  t.equal(sourceCount, 810 + 1311)
  t.equal(await n('SELECT count(DISTINCT ticket_id) FROM bronze.tickets'), sourceCount, 'bronze has every source ticket')
  t.equal(await n('SELECT count(*) FROM bronze.tickets'), sourceCount + 1, 'once each, plus the one changed version')
  t.equal(await n('SELECT count(*) FROM (SELECT ticket_id, _row_hash FROM bronze.tickets GROUP BY ALL HAVING count(*) > 1)'), 0, 'no version twice')

  const after = await run()
  t.match(after, { rows: 0, missedBeforeWindow: 0 }, 'nothing missed any more')
  const again = await run({ fullRefresh: true })
  t.match(again, { rows: 0, rowsRead: sourceCount, rowsUnchanged: sourceCount }, 'a second full refresh loads nothing')
})

t.test('TICKETS_LOOKBACK=0: the read starts at the watermark, and everything before it counts as missed', async (t) => {
  const { database, q } = await testDatabase(t)
  const rt = await testRuntime(t, { ...mysqlEnv(database), TICKETS_LOOKBACK: '0' })
  await seedTickets({ ...MYSQL, database })
  const first = await ingestTickets({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  await q(`INSERT INTO support_tickets (${TICKET_SOURCE_COLUMNS.join(', ')}) VALUES ?`, [[ticket('TCKL000001', hoursBefore(first.watermarkTo!, 1))]])
  const second = await ingestTickets({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  t.match(second, { windowFrom: first.watermarkTo, rows: 0, missedBeforeWindow: 1 })
})

t.test('a cursor column that is not a date-time cannot have a window: one line naming TICKETS_LOOKBACK', async (t) => {
  const { database, q } = await testDatabase(t)
  const rt = await testRuntime(t, { ...mysqlEnv(database), TICKETS_CURSOR_COLUMN: 'seq' })
  await seedTickets({ ...MYSQL, database })
  await q('ALTER TABLE support_tickets ADD COLUMN seq INT NOT NULL DEFAULT 7')
  t.match(await ingestTickets({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse }), { rows: 810, watermarkTo: '7' })
  const err = await ingestTickets({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse }).catch((e: Error) => e)
  t.match(err, { code: 'ERR_CONFIG', message: 'TICKETS_LOOKBACK needs a date-time cursor, but the watermark of seq is "7": set TICKETS_LOOKBACK=0 for this column' })
  const cfg = loadConfig({ ...(rt.cfg as unknown as Record<string, string>), CAREPLUS_HOME: rt.home, TICKETS_LOOKBACK: '0' }, rt.home)
  t.match(await ingestTickets({ cfg, store: rt.store, warehouse: rt.warehouse }), { rows: 0, windowFrom: '7' })
})
