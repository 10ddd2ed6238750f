import t from 'tap'
import { once } from 'node:events'
import { latestScheduledTime } from '../src/daemon.js'
import { cli, prepare, startDaemon, status, until } from './support/cliHarness.js'
import { lintMetrics } from './support/promLint.js'

t.test('catch-up at start, status while the daemon runs, SIGTERM mid-run, then a clean next run', async (t) => {
  const { home, env, port } = await prepare(t)
  // The daily 02:00 schedule: on a fresh install its latest time has no successful run, so it runs at once.
  const d = startDaemon(home, { ...env, PIPELINE_CRON: '0 2 * * *', PIPELINE_TZ: 'UTC' })
  t.teardown(() => void d.child.kill('SIGKILL'))
  const runningRun = await until('a catch-up run in progress', async () => {
    const s = await status(port)
    const r = s.runs[0]
    return r && r.state === 'running' && r.tasks.some((x) => x.name === 'ingest-logs' && x.state === 'running') ? r : undefined
  })
  t.equal(runningRun.trigger, 'catchup')
  const due = latestScheduledTime('0 2 * * *', 'UTC', new Date())
  t.equal(runningRun.scheduled_for?.slice(0, 19), due.toISOString().replace('T', ' ').slice(0, 19), 'scheduled for the latest 02:00')

  // Another process reads status while the daemon holds the DuckDB file.
  const st = cli(home, env, ['status', '--format', 'json'])
  t.equal(st.status, 0, st.stderr)
  t.equal(JSON.parse(st.stdout).runs[0].id, runningRun.id)
  const health = await fetch(`http://127.0.0.1:${port}/healthz`)
  t.match(await health.json(), { status: 'ok', running: runningRun.id })

  d.child.kill('SIGTERM')
  const [code] = (await once(d.child, 'exit')) as [number]
  t.equal(code, 0, 'SIGTERM: exit 0 ' + d.logs().slice(-2000))

  const after = JSON.parse(cli(home, env, ['status', '--format', 'json']).stdout) as Awaited<ReturnType<typeof status>>
  t.match(after.runs[0], { id: runningRun.id, state: 'cancelled' }, 'the run is recorded as cancelled')
  const partial = cli(home, env, ['query', 'SELECT (SELECT count(*) FROM bronze.logs) - (SELECT coalesce(sum(rows_loaded), 0) FROM ops.load_ledger WHERE source = \'logs\') AS stray', '--format', 'json'])
  t.same(JSON.parse(partial.stdout), [{ stray: 0 }], 'no bronze rows without a committed ledger row')

  const next = cli(home, env, ['run'])
  t.equal(next.status, 0, next.stdout + next.stderr)
  const counts = JSON.parse(
    cli(home, env, ['query', "SELECT (SELECT count(*) FROM bronze.logs) AS logs, (SELECT count(DISTINCT ticket_id) FROM bronze.tickets) AS tickets, (SELECT count(*) FROM gold.fct_tickets) AS gold", '--format', 'json']).stdout,
  )
  t.same(counts, [{ logs: 60_000, tickets: 810, gold: 810 }], 'the next run completed the work exactly once')
})

t.test('a fast schedule: runs on the cron, ticks during a run are skipped, metrics', async (t) => {
  const { home, env, port } = await prepare(t)
  const d = startDaemon(home, { ...env, PIPELINE_CRON: '*/1 * * * * *', PIPELINE_CATCHUP: 'false' })
  t.teardown(() => void d.child.kill('SIGKILL'))
  const s = await until('a successful run and a skipped tick', async () => {
    const r = await status(port)
    return r.runs.some((x) => x.state === 'success') && r.runs.some((x) => x.state === 'skipped') ? r : undefined
  }, 120_000)
  t.ok(s.runs.every((r) => r.trigger === 'schedule'), 'every run came from the schedule')
  // The run is in ops.runs a moment before its run-end event reaches the counters.
  const metrics = await until('the metrics counting the run', async () => {
    const m = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    return /careplus_runs_total\{state="success"\} [1-9]/.test(m) ? m : undefined
  })
  t.match(metrics, /careplus_runs_total\{state="success"\} [1-9]/)
  t.match(metrics, /careplus_runs_total\{state="skipped"\} [1-9]/)
  t.match(metrics, /careplus_task_rows_total\{task="ingest-logs"\} 60000/)
  t.match(metrics, /careplus_task_duration_seconds\{task="gold"\}/)
  t.same(lintMetrics(metrics), [], 'the rules of promtool check metrics hold')
  t.match(metrics, /careplus_source_events_total\{source="logs"\} [1-9]\d{4}/, 'log events read')
  t.match(metrics, /careplus_source_bytes_total\{source="tickets"\} [1-9]/, 'ticket bytes staged')
  t.match(metrics, /careplus_last_success_timestamp_seconds\{task="gold"\} 1\d{9}/)
  d.child.kill('SIGTERM')
  const [code] = (await once(d.child, 'exit')) as [number]
  t.equal(code, 0)
  const grid = cli(home, env, ['status', '--limit', '200'])
  t.match(grid.stdout, /ingest-tickets/, 'the grid has a column per task')
  t.match(grid.stdout, /│ schedule │[^\n]*│ ✔ success +│ ✔ success 810 rows/, 'a scheduled run succeeded, its first task with 810 rows')
  t.match(grid.stdout, /│ schedule │[^\n]*│ ↷ skipped +│/, 'a tick during the run is shown as skipped')
  t.match(grid.stdout, /still in progress/, 'with the reason it was skipped')
})
