import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { ingestTickets } from '../../src/pipelines/ingestTickets.js'
import { seedTickets } from '../../src/sources/ticketSeeder.js'
import { SUPPORT_TICKETS_DDL } from '../../src/sources/tickets/schema.js'
import { queryMysql, connectMysql, closeMysql } from '../../src/sources/mysql.js'
import { independentS3 } from '../support/independentS3.js'
import { testRuntime, type TestRuntime } from '../support/runtime.js'
import { MYSQL, mysqlEnv, testDatabase } from '../support/mysql.js'

const COLS = ['ticket_id', 'created_at', 'resolved_at', 'agent', 'priority', 'num_interactions', 'IssUeCat', 'channel', 'status', 'agent_feedback']

const AWKWARD: Array<Array<string | null>> = [
  ['TCKX00001', '2025-07-15 10:00:00', null, 'Zoë', 'Medum', '-999999', 'Billing', 'Chat', 'Open', 'said "hi", then left'],
  ['TCKX00002', '2025-07-15 10:00:00', '2025-07-15 11:00:00', '', 'Hgh', '3', 'Login', 'Phone', 'Resolved', ''],
  ['TCKX00003', '2025-07-15 10:00:01', '2025-07-16 11:00:00', 'A, B', 'Lw', 'x', 'Other', 'Web Form', 'Resolved', 'line 1\nline 2\r\nline 3'],
  ['TCKX00004', '2025-07-15 10:00:02', '2025-07-16 11:00:00', null, 'Low', '2', 'Other', 'Chat', 'Resolved', 'C:\\path\\N \\" back\\slash'],
  ['TCKX00005', '2025-07-15 10:00:03', '2025-07-16 11:00:00', 'Jürgen', 'High', '7', 'Other', 'Chat', 'Resolved', 'naïve — 日本語 🚀 ℹ️'],
  ['TCKX00006', '2025-07-15 10:00:04', '2025-07-16 11:00:00', 'NULL', 'High', '', 'Other', 'Chat', 'Resolved', null],
]

async function setup(t: Tap.Test, env: Record<string, string> = {}): Promise<{ rt: TestRuntime; q: (sql: string, v?: unknown[]) => Promise<Record<string, unknown>[]>; database: string }> {
  const { database, q } = await testDatabase(t)
  const rt = await testRuntime(t, { ...mysqlEnv(database), ...env })
  return { rt, q, database }
}

const run = (rt: TestRuntime, signal?: AbortSignal, onProgress?: Parameters<typeof ingestTickets>[0]['onProgress']) =>
  ingestTickets({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse, signal, onProgress })

async function bronzeCount(rt: TestRuntime): Promise<number> {
  const [r] = await rt.warehouse.query('SELECT count(*) AS n FROM bronze.tickets')
  return Number(r!.n)
}

declare namespace Tap {
  type Test = Parameters<Parameters<typeof t.test>[1]>[0]
}

t.test('first run: full load, every value byte for byte, NULL apart from empty', async (t) => {
  const { rt, q, database } = await setup(t)
  await seedTickets({ ...MYSQL, database })
  await q(`INSERT INTO support_tickets (${COLS.join(', ')}) VALUES ?`, [AWKWARD])
  const s = await run(rt)
  t.match(s, { watermarkFrom: null, rowsRead: 816, rows: 816, newTickets: 816, changedTickets: 0, stagedFiles: 1 })
  const source = await q(`SELECT ${COLS.join(', ')} FROM support_tickets ORDER BY ticket_id`)
  const bronze = await rt.warehouse.query(
    `SELECT ${COLS.map((c) => (c === 'IssUeCat' ? 'issue_cat AS "IssUeCat"' : c)).join(', ')} FROM bronze.tickets ORDER BY ticket_id`,
  )
  t.equal(bronze.length, source.length)
  t.same(bronze, source, 'bronze holds exactly the source values')
  const [lineage] = await rt.warehouse.query('SELECT count(DISTINCT _run_id) AS runs, min(_run_id) AS run, count(_extracted_at) AS x, count(_loaded_at) AS l FROM bronze.tickets')
  t.match(lineage, { runs: 1, run: s.runId, x: 816, l: 816 })
  const [wm] = await rt.warehouse.query("SELECT value FROM ops.watermarks WHERE source = 'tickets'")
  const [max] = await q('SELECT max(created_at) AS m FROM support_tickets')
  t.equal(wm!.value, max!.m, 'watermark = the highest created_at loaded')
})

t.test('incremental: no changes stage nothing; resolutions, new tickets and ties at the watermark arrive', async (t) => {
  const { rt, q, database } = await setup(t)
  await seedTickets({ ...MYSQL, database })
  const first = await run(rt)
  t.equal(first.rows, 810)
  const ledgerRows = async () => Number((await rt.warehouse.query('SELECT count(*) AS n FROM ops.load_ledger'))[0]!.n)
  const loadsBefore = await ledgerRows()

  const idle = await run(rt)
  t.match(idle, { rows: 0, stagedFiles: 0, newTickets: 0, changedTickets: 0 }, 'a run with no changes loads nothing')
  t.ok(idle.openTicketsRechecked > 0, `open tickets were rechecked (${idle.openTicketsRechecked})`)
  t.equal(await ledgerRows(), loadsBefore, 'no COPY was recorded')
  t.equal(await bronzeCount(rt), 810)
  const other = independentS3(rt.server.endpoint, rt.store.bucket)
  const firstKeys = await other.listKeys(`stage/tickets/${first.runId}/`)
  t.ok(firstKeys.length > 0 && firstKeys.length === first.stagedFiles, `the first run's ${first.stagedFiles} staged files are seen by another client`)
  t.same(await other.listKeys(`stage/tickets/${idle.runId}/`), [], 'no staged file for the idle run')

  // An open ticket from early in the month is resolved in MySQL after it was loaded.
  const [open] = await q("SELECT ticket_id, created_at FROM support_tickets WHERE resolved_at IS NULL ORDER BY created_at LIMIT 1")
  t.ok(open, 'the sample has an open ticket')
  await q("UPDATE support_tickets SET resolved_at = '2025-08-02 09:30:00', status = 'Resolved' WHERE ticket_id = ?", [open!.ticket_id])
  // A new ticket, and one created in the same second as the watermark (the inclusive overlap must not lose it).
  const [wm] = await rt.warehouse.query("SELECT value FROM ops.watermarks WHERE source = 'tickets'")
  await q(`INSERT INTO support_tickets (${COLS.join(', ')}) VALUES ?`, [
    [
      ['TCK0802000', '2025-08-02 08:00:00', null, 'Ann', 'High', '1', 'Billing', 'Chat', 'Open', 'new'],
      ['TCK0731999', wm!.value, null, 'Bob', 'Low', '1', 'Billing', 'Chat', 'Open', 'same second as the watermark'],
    ],
  ])
  const second = await run(rt)
  t.match(second, { rows: 3, newTickets: 2, changedTickets: 1, watermarkTo: '2025-08-02 08:00:00' })
  const versions = await rt.warehouse.query('SELECT resolved_at, status FROM bronze.tickets WHERE ticket_id = ? ORDER BY _extracted_at', [open!.ticket_id])
  t.same(versions, [
    { resolved_at: null, status: 'Open' },
    { resolved_at: '2025-08-02 09:30:00', status: 'Resolved' },
  ], 'bronze is append-only: the resolution is a new version')
  t.same((await rt.warehouse.query("SELECT ticket_id FROM bronze.tickets WHERE ticket_id IN ('TCK0802000', 'TCK0731999') ORDER BY 1")).map((r) => r.ticket_id), ['TCK0731999', 'TCK0802000'])

  const third = await run(rt)
  t.match(third, { rows: 0, stagedFiles: 0 }, 'and then nothing again')
})

t.test('TICKETS_CURSOR_COLUMN: an updated_at column drives the extraction alone', async (t) => {
  const { rt, q } = await setup(t, { TICKETS_CURSOR_COLUMN: 'updated_at' })
  await q(SUPPORT_TICKETS_DDL)
  await q('ALTER TABLE support_tickets ADD COLUMN updated_at DATETIME NOT NULL')
  await q(`INSERT INTO support_tickets (${COLS.join(', ')}, updated_at) VALUES ?`, [AWKWARD.map((r, i) => [...r, `2025-07-20 00:00:0${i}`])])
  const first = await run(rt)
  t.match(first, { cursorColumn: 'updated_at', rows: 6, watermarkTo: '2025-07-20 00:00:05' })
  await q("UPDATE support_tickets SET resolved_at = '2025-07-21 00:00:00', status = 'Resolved', updated_at = '2025-07-21 00:00:00' WHERE ticket_id = 'TCKX00001'")
  const second = await run(rt)
  // The default TICKETS_LOOKBACK (2d) re-reads the whole sample: only the changed row is appended.
  t.match(second, { rows: 1, changedTickets: 1, openTicketsRechecked: 0, rowsRead: 6, rowsUnchanged: 5, windowFrom: '2025-07-18 00:00:05', watermarkTo: '2025-07-21 00:00:00' })
})

t.test('MySQL unreachable or refusing the credentials: one clear line, nothing written', async (t) => {
  for (const [env, re] of [
    [{ MYSQL_PORT: '1' }, /^cannot connect to MySQL at 127\.0\.0\.1:1 as user "root": connection refused/],
    [{ MYSQL_USER: 'careplus_nobody', MYSQL_PASSWORD: 'Sup3r-Secret!' }, /^cannot connect to MySQL at 127\.0\.0\.1:3306 as user "careplus_nobody": access denied/],
  ] as const) {
    const { rt } = await setup(t)
    // The source is reached first, before the warehouse is touched: the tables exist only for the counts below.
    await rt.warehouse.migrate()
    const cfg = loadConfig({ ...(rt.cfg as unknown as Record<string, string>), CAREPLUS_HOME: rt.home, ...env }, rt.home)
    const err = await ingestTickets({ cfg, store: rt.store, warehouse: rt.warehouse }).catch((e: Error & { code?: string }) => e)
    t.match(err, { code: 'ERR_MYSQL', message: re })
    t.notMatch((err as Error).message, /Sup3r-Secret/, 'never the password')
    t.equal(await bronzeCount(rt), 0)
    t.same(await rt.warehouse.query("SELECT * FROM ops.watermarks"), [])
  }
})

t.test('the connection lost mid-stream: the run fails cleanly, the watermark stays, the next run loads it all', async (t) => {
  const { rt, q, database } = await setup(t, { STAGE_FILE_MAX_BYTES: '65536' })
  await q(SUPPORT_TICKETS_DDL)
  await q(`INSERT INTO support_tickets (${COLS.join(', ')})
           SELECT concat('TCKL', lpad(seq, 7, '0')), concat('2025-07-', lpad(1 + seq % 28, 2, '0'), ' 12:00:00'), NULL, 'Ann', 'Low', '1', 'Billing', 'Chat', 'Open', repeat('feedback ', 20)
           FROM seq_1_to_60000`)
  const killer = await connectMysql(MYSQL)
  t.teardown(() => closeMysql(killer))
  let killed = false
  const err = await run(rt, undefined, () => {
    if (killed) return
    killed = true
    void queryMysql<{ ID: number }>(killer, 'SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID() AND COMMAND = ?', [database, 'Query']).then(
      (rows) => Promise.all(rows.map((r) => queryMysql(killer, `KILL CONNECTION ${Number(r.ID)}`))),
    )
  }).catch((e: Error & { code?: string }) => e)
  t.match(err, { code: 'ERR_MYSQL', message: /^lost the extraction from MySQL at 127\.0\.0\.1:3306 as user "root"/ })
  t.equal(await bronzeCount(rt), 0, 'no partial load')
  t.same(await rt.warehouse.query('SELECT * FROM ops.watermarks'), [], 'the watermark did not move')
  const next = await run(rt)
  t.match(next, { rows: 60000, newTickets: 60000 })
  t.equal(await bronzeCount(rt), 60000)
})
