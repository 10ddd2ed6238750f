import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { ticketMetrics } from '../sources/tickets/metrics.js'
import type { DagEvent } from './orchestrator.js'

/**
 * Node's default metrics that break Prometheus' naming rules (promtool check
 * metrics): gauges named *_total, which only counters may be. The same
 * numbers stay available without the suffix (careplus_nodejs_active_handles
 * by type, …).
 */
const MISNAMED_DEFAULTS = ['careplus_nodejs_active_handles_total', 'careplus_nodejs_active_requests_total', 'careplus_nodejs_active_resources_total']

/** What a source's task reports as bytes read and events read, from its job's result. */
const SOURCES: Record<string, { source: string; bytes: string; events: string }> = {
  'ingest-logs': { source: 'logs', bytes: 'bytes', events: 'blocks' },
  'ingest-tickets': { source: 'tickets', bytes: 'bytes', events: 'rowsRead' },
}

export interface DaemonMetrics {
  registry: Registry
  /** Counts a skipped scheduled run (its tick came during a run). */
  skippedRun(): void
  onEvent(e: DagEvent): void
}

/** The daemon's /metrics: DAG runs and tasks, per-source volumes, and Node's process metrics. */
export function daemonMetrics(): DaemonMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'careplus_' })
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name)
  const registers = [registry]
  const runsTotal = new Counter({ name: 'careplus_runs_total', help: 'DAG runs by final state', labelNames: ['state'], registers })
  const taskSeconds = new Gauge({ name: 'careplus_task_duration_seconds', help: 'Duration of the last attempt series of each task', labelNames: ['task'], registers })
  const taskRows = new Counter({ name: 'careplus_task_rows_total', help: 'Rows loaded or built by each task', labelNames: ['task'], registers })
  const taskRejects = new Counter({ name: 'careplus_task_rejects_total', help: 'Rejected log blocks by task', labelNames: ['task'], registers })
  const taskRetries = new Counter({ name: 'careplus_task_retries_total', help: 'Task attempts retried after a transient error', labelNames: ['task'], registers })
  const taskFailures = new Counter({ name: 'careplus_task_failures_total', help: 'Tasks failed, by error code', labelNames: ['task', 'code'], registers })
  const running = new Gauge({ name: 'careplus_run_in_progress', help: '1 while a DAG run is going', registers })
  const sourceBytes = new Counter({
    name: 'careplus_source_bytes_total',
    help: 'Bytes read per source: log objects as stored in S3 (compressed for .log.gz); tickets as the CSV of the rows staged, before gzip',
    labelNames: ['source'],
    registers,
  })
  const sourceEvents = new Counter({ name: 'careplus_source_events_total', help: 'Events read per source: log blocks, ticket rows', labelNames: ['source'], registers })
  const lastSuccess = new Gauge({ name: 'careplus_last_success_timestamp_seconds', help: 'Unix time of the last successful attempt of each task', labelNames: ['task'], registers })
  const tickets = ticketMetrics(registry)
  const quarantined = new Gauge({
    name: 'careplus_objects_quarantined',
    help: 'Log objects quarantined as of the last ingest-logs run: failed in it, or failed before with the same ETag (careplus failures lists them)',
    registers,
  })
  // Every series starts at zero, so a rate() has a first sample before the first run.
  for (const { source } of Object.values(SOURCES)) {
    sourceBytes.inc({ source }, 0)
    sourceEvents.inc({ source }, 0)
  }

  return {
    registry,
    skippedRun: () => runsTotal.inc({ state: 'skipped' }),
    onEvent(e) {
      if (e.type === 'run-start') running.set(1)
      else if (e.type === 'run-end') {
        running.set(0)
        runsTotal.inc({ state: e.run.state })
      } else if (e.type === 'task-result') {
        lastSuccess.set({ task: e.task }, Date.now() / 1000)
        if (e.task === 'ingest-tickets') tickets.observe(e.result)
        if (e.task === 'ingest-logs') quarantined.set(numeric(e.result.objectsFailed) + numeric(e.result.objectsQuarantined))
        const src = SOURCES[e.task]
        if (src) {
          sourceBytes.inc({ source: src.source }, numeric(e.result[src.bytes]))
          sourceEvents.inc({ source: src.source }, numeric(e.result[src.events]))
        }
      } else if (e.type === 'task') {
        const t = e.task
        if (t.state === 'retrying') taskRetries.inc({ task: t.name })
        if (!['success', 'failed', 'cancelled', 'skipped'].includes(t.state)) return
        if (t.started_at && t.ended_at) taskSeconds.set({ task: t.name }, (Date.parse(t.ended_at + 'Z') - Date.parse(t.started_at + 'Z')) / 1000)
        if (t.rows) taskRows.inc({ task: t.name }, t.rows)
        if (t.rejects) taskRejects.inc({ task: t.name }, t.rejects)
        if (t.state === 'failed') taskFailures.inc({ task: t.name, code: t.error_code ?? 'none' })
      }
    },
  }
}

function numeric(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0
}
