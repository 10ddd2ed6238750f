import t from 'tap'
import type { PipelineError } from '../../src/errors.js'
import { openTestWarehouse, snowflakeTestEnv } from '../support/snowflake.js'

/**
 * Issue 14, item 5: a session lost abruptly leaves its open transaction in
 * Snowflake, detached, holding its locks (for up to 4 hours), so the retry's
 * DELETE would wait on them. After logging in again the engine aborts the
 * transactions of the sessions it lost, and only those.
 */
const ROW = "INSERT INTO ops.watermarks VALUES ('s', 'c', 'v', 'r', CAST('2025-07-01 00:00:00' AS TIMESTAMP))"

t.test('the endpoint keeps a lost session\'s transaction open, holding its locks, until it is aborted', async (t) => {
  const sf = await snowflakeTestEnv(t, { env: { SNOWFLAKE_LOCK_TIMEOUT: '1' } })
  const victim = await openTestWarehouse(t, sf.cfg)
  await victim.migrate()
  await victim.run(ROW)
  sf.endpoint.faultOn(/^INSERT INTO ops\.watermarks/, 'lose-session')
  await t.rejects(
    victim.transaction(async (tx) => {
      await tx.run("DELETE FROM ops.watermarks WHERE source = 's'")
      await tx.run(ROW)
    }),
    { code: 'ERR_SNOWFLAKE_CONNECTION' },
  )
  // Another session (another process of the pipeline, say) cannot delete those rows while the detached transaction lives.
  const other = await openTestWarehouse(t, sf.cfg)
  await t.rejects(other.run("DELETE FROM ops.watermarks WHERE source = 's'"), { message: /^Snowflake 000625 .*has locked table 'WATERMARKS'/ }, 'what the retry met before the fix')
  const [leftover] = await other.query('SHOW TRANSACTIONS')
  t.match(leftover, { user: 'CAREPLUS_SVC', state: 'running' }, 'SHOW TRANSACTIONS lists it')
})

t.test('after a lost session the engine aborts the transaction it left, the retry does not wait, and other sessions keep theirs', async (t) => {
  const sf = await snowflakeTestEnv(t, { env: { SNOWFLAKE_LOCK_TIMEOUT: '30' } })
  const wh = await openTestWarehouse(t, sf.cfg)
  await wh.migrate()
  await wh.run(ROW)

  // Someone else's transaction, in another session of the same user: not the engine's to abort.
  const other = await openTestWarehouse(t, sf.cfg)
  let release!: () => void
  const held = new Promise<void>((r) => (release = r))
  let begun!: () => void
  const isOpen = new Promise<void>((r) => (begun = r))
  const bystander = other.transaction(async (tx) => {
    await tx.run("DELETE FROM ops.task_runs WHERE run_id = 'nothing'")
    begun()
    await held
  })
  await isOpen

  sf.endpoint.faultOn(/^INSERT INTO ops\.watermarks/, 'lose-session')
  const err = await wh
    .transaction(async (tx) => {
      await tx.run("DELETE FROM ops.watermarks WHERE source = 's'")
      await tx.run(ROW)
    })
    .then(
      () => undefined,
      (e: unknown) => e as PipelineError,
    )
  t.equal(err?.code, 'ERR_SNOWFLAKE_CONNECTION')
  t.match(
    err?.message,
    /^lost the Snowflake session of user careplus_svc on account careplus-test: .*; nothing of its open transaction was committed, but Snowflake may keep it open, holding its locks, until the next login aborts it; the next call logs in again$/,
  )
  t.notMatch(err?.message, /rolled back/, 'no claim that it is rolled back')

  const observer = await openTestWarehouse(t, sf.cfg)
  t.equal((await observer.query('SHOW TRANSACTIONS')).length, 2, "the lost transaction is still there, beside the other session's")

  // The retry: the engine logs in again, aborts what its lost session left, and the DELETE runs at once.
  const waitsBefore = sf.endpoint.lockWaits.length
  const logins = sf.endpoint.logins.length
  const deleted = await wh.transaction(async (tx) => {
    const n = await tx.run("DELETE FROM ops.watermarks WHERE source = 's'")
    await tx.run(ROW)
    return n
  })
  t.equal(deleted, 1, 'the retry deleted the committed row (the lost DELETE never committed)')
  t.equal(sf.endpoint.logins.length, logins + 1, 'one new login')
  t.equal(sf.endpoint.lockWaits.length, waitsBefore, 'without waiting on a lock')
  t.equal(sf.endpoint.aborted.length, 1, 'one transaction aborted')
  t.match(sf.endpoint.aborted[0], /^\d{19}$/, 'its 64-bit id, sent exactly (as text, not a rounded number)')
  const sent = sf.endpoint.statements.map((s) => s.sql)
  t.ok(sent.includes('SHOW TRANSACTIONS') && sent.includes(`SELECT SYSTEM$ABORT_TRANSACTION(${sf.endpoint.aborted[0]})`))

  const running = await wh.query('SHOW TRANSACTIONS')
  t.equal(running.length, 1, "the other session's transaction was left alone")
  release()
  await bystander
  t.same(await wh.query('SELECT count(*) AS n FROM ops.watermarks'), [{ n: 1 }])
})
