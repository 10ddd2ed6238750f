import t from 'tap'
import { Registry, collectDefaultMetrics } from 'prom-client'
import { daemonMetrics } from '../../src/dag/daemonMetrics.js'
import type { TaskRecord } from '../../src/dag/runHistory.js'
import { lintMetrics } from '../support/promLint.js'

const task = (name: string, state: TaskRecord['state'], extra: Partial<TaskRecord> = {}): TaskRecord => ({
  name,
  state,
  attempts: 1,
  started_at: '2026-12-03 10:00:00',
  ended_at: '2026-12-03 10:00:02.5',
  rows: null,
  rows_in: null,
  rejects: null,
  error: null,
  error_code: null,
  ...extra,
})

t.test('the lint catches what promtool rejects in Node\'s default metrics', async (t) => {
  const raw = new Registry()
  collectDefaultMetrics({ register: raw, prefix: 'careplus_' })
  const problems = lintMetrics(await raw.metrics())
  t.ok(problems.includes('careplus_nodejs_active_handles_total: non-counter metrics should not have "_total" suffix'), problems.join('\n'))
  t.same(lintMetrics('# TYPE a_seconds gauge\na_seconds 1\n'), ['a_seconds: no help text'])
  t.same(lintMetrics('# HELP jobs done\n# TYPE jobs counter\njobs 1\n'), ['jobs: counter metrics should have "_total" suffix'])
  t.same(lintMetrics('x_total 1\n'), ['x_total: sample without HELP/TYPE'])
  t.same(lintMetrics('# HELP d_ms lag\n# TYPE d_ms gauge\nd_ms{le="1"} 1\n'), ['d_ms: use base units (seconds, bytes, ratios), not "ms"', 'd_ms: label "le" is for histograms'])
})

t.test('daemon metrics: lint-clean, per-source bytes and events, last success, retries and failures by code', async (t) => {
  const m = daemonMetrics()
  const runId = 'r1'
  m.onEvent({ type: 'run-start', runId })
  m.onEvent({ type: 'task', runId, task: task('ingest-tickets', 'retrying', { error_code: 'ERR_MYSQL' }) })
  m.onEvent({ type: 'task-result', runId, task: 'ingest-logs', result: { bytes: 24_000_000, blocks: 60_000, rows: 59_990, objectsFailed: 2, objectsQuarantined: 1 } })
  m.onEvent({ type: 'task-result', runId, task: 'ingest-tickets', result: { bytes: 300_000, rowsRead: 810, rows: 810, missedBeforeWindow: 7 } })
  m.onEvent({ type: 'task-result', runId, task: 'silver', result: {} })
  m.onEvent({ type: 'task', runId, task: task('ingest-logs', 'success', { rows: 59_990, rejects: 10 }) })
  m.onEvent({ type: 'task', runId, task: task('gold', 'failed', { error_code: 'ERR_DATA_TEST' }) })
  m.onEvent({ type: 'run-end', run: { id: runId, trigger: 'manual', state: 'failed', scheduled_for: null, started_at: '2026-12-03 10:00:00', ended_at: '2026-12-03 10:00:05', error: 'gold', tasks: [] } })
  m.skippedRun()
  const text = await m.registry.metrics()
  t.same(lintMetrics(text), [], 'what promtool check metrics would accept')
  t.match(text, /careplus_source_bytes_total\{source="logs"\} 24000000\n/)
  t.match(text, /careplus_source_bytes_total\{source="tickets"\} 300000\n/)
  t.match(text, /careplus_source_events_total\{source="logs"\} 60000\n/)
  t.match(text, /careplus_source_events_total\{source="tickets"\} 810\n/)
  t.match(text, /careplus_last_success_timestamp_seconds\{task="silver"\} \d{10}/)
  t.match(text, /careplus_task_retries_total\{task="ingest-tickets"\} 1\n/)
  t.match(text, /careplus_task_failures_total\{task="gold",code="ERR_DATA_TEST"\} 1\n/)
  t.match(text, /careplus_task_rows_total\{task="ingest-logs"\} 59990\n/)
  t.match(text, /careplus_task_rejects_total\{task="ingest-logs"\} 10\n/)
  t.match(text, /careplus_task_duration_seconds\{task="ingest-logs"\} 2\.5\n/)
  t.match(text, /careplus_runs_total\{state="failed"\} 1\n/)
  t.match(text, /careplus_runs_total\{state="skipped"\} 1\n/)
  t.match(text, /careplus_run_in_progress 0\n/)
  t.match(text, /careplus_objects_quarantined 3\n/, 'failed in this run plus still quarantined from before')
  t.match(text, /careplus_tickets_missed_before_window 7\n/)
  t.match(text, /careplus_nodejs_active_handles\{/, 'the handle counts stay, by type')
  t.notMatch(text, /careplus_nodejs_active_handles_total/)
})
