import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { DuckDbWarehouse } from '../../src/warehouse/duckdbWarehouse.js'
import { fillSupportTickets, mysqlEnv, testDatabase } from '../support/mysql.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const CLI = path.join(ROOT, 'dist/src/cli.js')
const TICKETS = 40_000
const OBJECT_SUFFIX = '._S3rver_object'

/** Keys under stage/tickets/ in the embedded S3 server's folder (read from disk: no server runs between the CLI's runs). */
function stagedKeys(s3Dir: string): string[] {
  const root = path.join(s3Dir, 'careplus')
  const base = path.join(root, 'stage', 'tickets')
  if (!existsSync(base)) return []
  return (readdirSync(base, { recursive: true }) as string[])
    .filter((f) => f.endsWith(OBJECT_SUFFIX))
    .map((f) => `stage/tickets/${f.slice(0, -OBJECT_SUFFIX.length).split(path.sep).join('/')}`)
    .sort()
}

t.test('kill -9 ingest-tickets at 5 moments: the next run leaves no uncommitted stage folder and loads every ticket once', async (t) => {
  const { database, q } = await testDatabase(t)
  await fillSupportTickets(q, 'TCKK', TICKETS)
  const home = t.testdir()
  const careplusHome = path.join(home, '.careplus')
  const s3Dir = path.join(careplusHome, 's3')
  // Small staged files: each 2,000-row batch rolls over to a new one, 20 a run, so a kill lands between them.
  const env = { PATH: process.env.PATH, CAREPLUS_HOME: careplusHome, LOG_LEVEL: 'silent', STAGE_FILE_MAX_BYTES: '32768', ...mysqlEnv(database) }
  const openWarehouse = () => DuckDbWarehouse.open({ file: path.join(careplusHome, 'warehouse.duckdb'), tmpDir: path.join(home, 'tmp-check') })

  // Moments: while the run starts (migrations, leftover removal, the first query), then after 1, 5, 10 and 15 staged files (of 20: one per 2,000-row batch at most).
  const moments: Array<{ afterMs: number } | { afterFiles: number }> = [{ afterMs: 300 }, { afterFiles: 1 }, { afterFiles: 5 }, { afterFiles: 10 }, { afterFiles: 15 }]
  for (const [i, moment] of moments.entries()) {
    const before = new Set(stagedKeys(s3Dir))
    const child = spawn(process.execPath, [CLI, 'ingest-tickets', '--json'], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const exited = once(child, 'exit')
    let done = false
    void exited.then(() => (done = true))
    if ('afterMs' in moment) await sleep(moment.afterMs)
    else while (!done && stagedKeys(s3Dir).filter((k) => !before.has(k)).length < moment.afterFiles) await sleep(10)
    child.kill('SIGKILL')
    const [, sig] = await exited
    t.equal(sig, 'SIGKILL', `run ${i + 1} was killed (${JSON.stringify(moment)}), not finished: ${stderr.slice(-300)}`)
    if (existsSync(path.join(careplusHome, 'warehouse.duckdb'))) {
      const wh = await openWarehouse()
      const [b] = await wh.query('SELECT count(*) AS n FROM bronze.tickets')
      const [l] = await wh.query('SELECT count(*) AS n FROM ops.load_ledger')
      await wh.close()
      t.same([Number(b!.n), Number(l!.n)], [0, 0], `after kill ${i + 1}: nothing committed, nothing partial`)
    }
  }
  const left = stagedKeys(s3Dir)
  const leftRuns = new Set(left.map((k) => k.split('/')[2]))
  t.ok(left.length >= 15, `the killed runs left ${left.length} staged files in ${leftRuns.size} run folders`)

  const final = spawnSync(process.execPath, [CLI, 'ingest-tickets', '--json'], { cwd: home, env, encoding: 'utf8' })
  t.equal(final.status, 0, final.stderr)
  const s = JSON.parse(final.stdout) as { runId: string; rows: number; stagedFiles: number; leftoversRemoved: number }
  t.match(s, { rows: TICKETS, newTickets: TICKETS })
  t.equal(s.leftoversRemoved, left.length, 'the run removed every leftover first')
  t.ok(s.stagedFiles > 15, `${s.stagedFiles} staged files in a whole run (the kills' thresholds were inside one)`)

  const wh = await openWarehouse()
  const n = async (sql: string) => Number(Object.values((await wh.query(sql))[0]!)[0])
  t.equal(await n('SELECT count(*) FROM bronze.tickets'), TICKETS, 'every ticket')
  t.equal(await n('SELECT count(DISTINCT ticket_id) FROM bronze.tickets'), TICKETS, 'once')
  t.equal(await n('SELECT count(*) FROM ops.load_ledger'), 1, 'one committed load')
  const committed = (await wh.query('SELECT staged_files FROM ops.load_ledger')).flatMap((r) => JSON.parse(String(r.staged_files)) as string[]).sort()
  await wh.close()
  const stage = stagedKeys(s3Dir)
  t.same(stage, committed, 'the stage holds exactly the committed load\'s files')
  t.same([...new Set(stage.map((k) => k.split('/')[2]))], [s.runId], 'no uncommitted run folder left')

  // --full-refresh through the CLI: the whole table read again, nothing loaded twice.
  const refresh = spawnSync(process.execPath, [CLI, 'ingest-tickets', '--full-refresh'], { cwd: home, env, encoding: 'utf8' })
  t.equal(refresh.status, 0, refresh.stderr)
  t.match(refresh.stdout, /window {4}the whole table \(--full-refresh\)/)
  t.match(refresh.stdout, new RegExp(`read {6}${TICKETS.toLocaleString('en-US')} rows .*, ${TICKETS.toLocaleString('en-US')} unchanged`))
  t.match(refresh.stdout, /loaded {4}0 rows/)
  const wh2 = await openWarehouse()
  t.equal(Number((await wh2.query('SELECT count(*) AS n FROM bronze.tickets'))[0]!.n), TICKETS, 'still every ticket once')
  await wh2.close()
})
