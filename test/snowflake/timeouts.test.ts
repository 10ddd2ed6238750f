import t from 'tap'
import { PipelineError } from '../../src/errors.js'
import { runTransforms } from '../../src/transform/runTransforms.js'
import { openTestWarehouse, snowflakeTestEnv } from '../support/snowflake.js'

/**
 * Issue 14, item 4: every statement is bounded by the session's
 * STATEMENT_TIMEOUT_IN_SECONDS and LOCK_TIMEOUT (from the settings), and
 * every statement, not only COPY, can be cancelled with an abort signal.
 */

const cancelled = () => new PipelineError('ERR_CANCELLED', 'cancelled by test')

t.test('the session gets STATEMENT_TIMEOUT_IN_SECONDS and LOCK_TIMEOUT from the settings; Snowflake enforces them', async (t) => {
  const sf = await snowflakeTestEnv(t, { env: { SNOWFLAKE_STATEMENT_TIMEOUT_IN_SECONDS: '3', SNOWFLAKE_LOCK_TIMEOUT: '1' } })
  const wh = await openTestWarehouse(t, sf.cfg)
  await wh.migrate()
  const mine = sf.endpoint.statements.filter((s) => s.session === sf.endpoint.statements.at(-1)!.session).map((s) => s.sql)
  t.ok(mine.includes('ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = 3') && mine.includes('ALTER SESSION SET LOCK_TIMEOUT = 1'), 'set at login')

  sf.endpoint.faultOn(/^SELECT 'slow'/, 'stall')
  const err = await wh.query("SELECT 'slow' AS x").then(
    () => undefined,
    (e: unknown) => e as PipelineError & { snowflakeCode?: string },
  )
  t.equal(err?.code, 'ERR_SNOWFLAKE_QUERY')
  t.equal(err?.snowflakeCode, '000630')
  t.match(err?.message, /^Snowflake 000630 \(57014\): Statement reached its statement or warehouse timeout of 3 second\(s\) and was canceled\./)
  t.equal(sf.endpoint.timedOut.length, 1, 'Snowflake cancelled it')
  t.same(await wh.query('SELECT 1 AS one'), [{ one: 1 }], 'the session goes on')

  // Another session holds a lock: a DELETE on the same table waits LOCK_TIMEOUT, then fails.
  await wh.run("INSERT INTO ops.watermarks VALUES ('s', 'c', 'v', 'r', CAST('2025-07-01 00:00:00' AS TIMESTAMP))")
  const other = await openTestWarehouse(t, sf.cfg)
  let release!: () => void
  const held = new Promise<void>((r) => (release = r))
  let locked!: () => void
  const isLocked = new Promise<void>((r) => (locked = r))
  const holder = other.transaction(async (tx) => {
    await tx.run("DELETE FROM ops.watermarks WHERE source = 's'")
    locked()
    await held
  })
  await isLocked
  const waited = await wh.run("DELETE FROM ops.watermarks WHERE source = 's'").then(
    () => undefined,
    (e: unknown) => e as PipelineError & { snowflakeCode?: string },
  )
  t.equal(waited?.snowflakeCode, '000625')
  t.match(waited?.message, /has locked table 'WATERMARKS' in transaction \d+ and this lock has not yet been released\. .*LOCK_TIMEOUT \(1 seconds\)/)
  t.ok(sf.endpoint.lockWaits.length >= 1, 'it waited for the lock first')
  release()
  await holder
  t.equal(await wh.run("DELETE FROM ops.watermarks WHERE source = 's'"), 0, 'once the holder committed, the DELETE runs (the row is gone)')
})

t.test('an abort signal cancels any statement in Snowflake: run, query, a transaction\'s statements, stream', async (t) => {
  const sf = await snowflakeTestEnv(t)
  const wh = await openTestWarehouse(t, sf.cfg)
  await wh.migrate()
  const stalled = /^SELECT 'stalled'/
  const abortSoon = () => {
    const c = new AbortController()
    const reason = cancelled()
    setTimeout(() => c.abort(reason), 200)
    return { signal: c.signal, reason }
  }

  sf.endpoint.faultOn(stalled, 'stall', 5)
  let a = abortSoon()
  await t.rejects(wh.query("SELECT 'stalled' AS x", undefined, a.signal), a.reason, 'query()')
  a = abortSoon()
  await t.rejects(wh.run("SELECT 'stalled' AS x", undefined, a.signal), a.reason, 'run()')
  a = abortSoon()
  await t.rejects(wh.transaction((tx) => tx.query("SELECT 'stalled' AS x", undefined, a.signal)), a.reason, "a transaction's query")
  a = abortSoon()
  await t.rejects(wh.transaction((tx) => tx.run("SELECT 'stalled' AS x", undefined, a.signal)), a.reason, "a transaction's run")
  a = abortSoon()
  await t.rejects(
    (async () => {
      for await (const chunk of wh.stream("SELECT 'stalled' AS x", a.signal)) void chunk
    })(),
    a.reason,
    'stream()',
  )
  t.equal(sf.endpoint.cancelled.length, 5, 'each sent Snowflake an abort-request')

  // A statement whose signal aborts while it waits its turn is never sent.
  sf.endpoint.faultOn(stalled, 'stall')
  const first = new AbortController()
  const second = new AbortController()
  const running = wh.query("SELECT 'stalled' AS x", undefined, first.signal)
  const queued = wh.query("SELECT 'queued' AS x", undefined, second.signal)
  const reason = cancelled()
  second.abort(reason)
  setTimeout(() => first.abort(cancelled()), 200)
  await t.rejects(queued, reason)
  await t.rejects(running, { code: 'ERR_CANCELLED' })
  t.notOk(sf.endpoint.statements.some((s) => s.sql === "SELECT 'queued' AS x"), 'the queued statement never reached Snowflake')
  t.same(await wh.query('SELECT 1 AS one'), [{ one: 1 }])
})

t.test('a cancelled transform cancels the gold model running in Snowflake, and publishes nothing', async (t) => {
  const sf = await snowflakeTestEnv(t)
  const wh = await openTestWarehouse(t, sf.cfg)
  await wh.migrate()
  sf.endpoint.faultOn(/^CREATE OR REPLACE TRANSIENT TABLE gold__build\.fct_tickets COPY GRANTS AS/, 'stall')
  const controller = new AbortController()
  const reason = cancelled()
  const run = runTransforms({
    warehouse: wh,
    signal: controller.signal,
    onEvent: (e) => {
      if (e.name === 'gold.fct_logs') setTimeout(() => controller.abort(reason), 200)
    },
  })
  await t.rejects(run, reason)
  t.equal(sf.endpoint.cancelled.length, 1, 'the stalled CREATE TABLE was cancelled in Snowflake, not waited for')
  t.same(sf.endpoint.swaps, [], 'gold was not published')
})
