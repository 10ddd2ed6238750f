import t from 'tap'
import path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { CLI, cli, prepare, startDaemon, status, until } from './support/cliHarness.js'

type Runs = Awaited<ReturnType<typeof status>>

function json<T>(r: { stdout: string; stderr: string; status: number | null }): T {
  if (r.status !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout) as T
}

/** Bronze rows without a committed ledger row, per source: what a partial load would leave. */
const STRAY = `SELECT (SELECT count(*) FROM bronze.logs) - (SELECT coalesce(sum(rows_loaded), 0) FROM ops.load_ledger WHERE source = 'logs') AS logs,
                      (SELECT count(*) FROM bronze.tickets) - (SELECT coalesce(sum(rows_loaded), 0) FROM ops.load_ledger WHERE source = 'tickets') AS tickets`

/** Embedded S3 servers still running over this home's data. */
function s3Servers(home: string): string[] {
  const ps = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).stdout
  return ps.split('\n').filter((l) => l.includes('embeddedS3Server') && l.includes(home))
}

t.test('daemon SIGTERM: idle exits at once; mid-run as soon as its tasks stopped, not after the grace period', async (t) => {
  const { home, env, port } = await prepare(t)
  const idle = startDaemon(home, { ...env, PIPELINE_CATCHUP: 'false' })
  t.teardown(() => void idle.child.kill('SIGKILL'))
  await until('the daemon answering', async () => ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok ? true : undefined))
  let sent = performance.now()
  idle.child.kill('SIGTERM')
  const [idleCode] = (await once(idle.child, 'exit')) as [number]
  const idleMs = performance.now() - sent
  t.equal(idleCode, 0, idle.logs().slice(-2000))
  t.ok(idleMs < 2000, `nothing running: exited ${idleMs.toFixed(0)} ms after SIGTERM (under 2 s)`)

  const graceMs = 120_000
  const d = startDaemon(home, { ...env, PIPELINE_GRACE_MS: String(graceMs), PIPELINE_CRON: '0 2 * * *' })
  t.teardown(() => void d.child.kill('SIGKILL'))
  const running = await until('a catch-up run loading logs', async () => {
    const r = (await status(port)).runs[0]
    return r && r.state === 'running' && r.tasks.some((x) => x.name === 'ingest-logs' && x.state === 'running') ? r : undefined
  })
  sent = performance.now()
  d.child.kill('SIGTERM')
  const [code] = (await once(d.child, 'exit')) as [number]
  const exitedAt = Date.now()
  const midRunMs = performance.now() - sent
  t.equal(code, 0, d.logs().slice(-2000))
  const ended = d.logs().split('\n').map((l) => { try { return JSON.parse(l) as { msg?: string; time?: number } } catch { return {} } }).find((l) => l.msg === 'run ended')
  t.ok(ended?.time, 'the run ended before the process exited')
  const afterRunEnd = exitedAt - ended!.time!
  t.ok(afterRunEnd < 5000, `exited ${afterRunEnd} ms after its run ended`)
  t.ok(midRunMs < graceMs / 4, `mid-run: exited ${midRunMs.toFixed(0)} ms after SIGTERM, far inside PIPELINE_GRACE_MS=${graceMs}`)
  t.comment(`stop figures: idle ${idleMs.toFixed(0)} ms; mid-run ${midRunMs.toFixed(0)} ms after SIGTERM, ${afterRunEnd} ms after the run ended`)

  const after = json<Runs>(cli(home, env, ['status', '--format', 'json']))
  t.match(after.runs[0], { id: running.id, state: 'cancelled' }, 'the run is recorded as cancelled')
  t.ok(after.runs[0]!.tasks.every((x) => x.state === 'cancelled'), 'every task of it too')
  t.same(json(cli(home, env, ['query', STRAY, '--format', 'json'])), [{ logs: 0, tickets: 0 }], 'nothing partially loaded')
  t.same(s3Servers(home), [], 'the embedded S3 server stopped with its daemon')
})

t.test('careplus run cancelled by Ctrl-C (SIGINT to its process group, as a terminal sends it): exit 130, run cancelled', async (t) => {
  const { home, env } = await prepare(t)
  // Its own group, like a terminal's foreground job: the SIGINT reaches every process in it, as Ctrl-C does.
  const child = spawn(process.execPath, [CLI, 'run'], { cwd: home, detached: true, env: { PATH: process.env.PATH, ...env, LOG_LEVEL: 'debug' } })
  t.teardown(() => void child.kill('SIGKILL'))
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d))
  await until('the log ingest started', async () => (/Worker for job \\?"ingest-logs\\?" online/.test(out) ? true : undefined))
  await sleep(500)
  const sent = performance.now()
  process.kill(-child.pid!, 'SIGINT')
  const [code] = (await once(child, 'exit')) as [number]
  const ms = performance.now() - sent
  t.equal(code, 130, out.slice(-3000))
  t.comment(`careplus run: exit ${code} ${ms.toFixed(0)} ms after SIGINT to its group`)
  t.match(out, /careplus: cancelled by SIGINT/)
  t.notMatch(out, /connection refused/, 'the embedded S3 server was not hit by the terminal\'s SIGINT')
  t.same(s3Servers(home), [], 'and stopped by its parent')

  const runs = json<Runs>(cli(home, env, ['status', '--format', 'json'])).runs
  t.equal(runs[0]!.state, 'cancelled', 'the run is recorded as cancelled')
  t.same(json(cli(home, env, ['query', STRAY, '--format', 'json'])), [{ logs: 0, tickets: 0 }], 'nothing partially loaded')
  const next = cli(home, env, ['run'])
  t.equal(next.status, 0, next.stdout + next.stderr)
  t.same(json(cli(home, env, ['query', 'SELECT (SELECT count(*) FROM bronze.logs) AS logs, (SELECT count(*) FROM bronze.tickets) AS tickets', '--format', 'json'])), [{ logs: 60_000, tickets: 810 }])
})

t.test('MYSQL_PORT=1 careplus run: fails at the first attempt, naming the setting', async (t) => {
  const home = t.testdir()
  // A retry would first wait PIPELINE_RETRY_DELAY_MS: a run shorter than that was not retried, whatever the machine's load.
  // (Unloaded the run takes about 3 s; the 5 s is checked by hand, since a timed test fails on a loaded 2-core machine.)
  const retryDelayMs = 60_000
  const env = { CAREPLUS_HOME: path.join(home, '.careplus'), MYSQL_PORT: '1', LOG_LEVEL: 'warn', PIPELINE_RETRY_DELAY_MS: String(retryDelayMs) }
  const started = performance.now()
  const r = cli(home, env, ['run'])
  const wallMs = performance.now() - started
  t.equal(r.status, 1)
  t.match(r.stderr, /^careplus: run \S+ failed: ingest-tickets \(ERR_MYSQL\): cannot connect to MySQL at 127\.0\.0\.1:1 as user "root": connection refused \(check MYSQL_HOST and MYSQL_PORT/m)
  t.match(r.stderr, /task failed with a permanent error: not retried/)
  t.notMatch(r.stderr, /retrying/)
  const run = json<Runs>(cli(home, env, ['status', '--format', 'json'])).runs[0]!
  const tickets = run.tasks.find((x) => x.name === 'ingest-tickets')!
  t.match(tickets, { state: 'failed', attempts: 1, error_code: 'ERR_MYSQL' })
  t.match(cli(home, env, ['status']).stdout, /✘ failed ERR_MYSQL/, 'careplus status shows the code')
  const runMs = Date.parse(run.ended_at! + 'Z') - Date.parse(run.started_at + 'Z')
  t.ok(runMs < retryDelayMs, `the run took ${runMs} ms from start to failure, less than one retry delay`)
  t.comment(`MYSQL_PORT=1 careplus run: run ${runMs} ms, command ${wallMs.toFixed(0)} ms`)
})
