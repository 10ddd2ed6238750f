/** The DAG's shape, apart from the orchestrator (and Bree), so a command can name its tasks cheaply. */
export interface TaskDef {
  name: string
  /** File under jobs/. */
  job: string
  deps: string[]
  args?: Record<string, unknown>
}

/** The seed's Airflow DAG: both loads in parallel, then silver, then gold. */
export const PIPELINE_DAG: readonly TaskDef[] = [
  { name: 'ingest-tickets', job: 'ingest-tickets.js', deps: [] },
  { name: 'ingest-logs', job: 'ingest-logs.js', deps: [] },
  { name: 'silver', job: 'transform.js', deps: ['ingest-tickets', 'ingest-logs'], args: { layers: ['silver'] } },
  { name: 'gold', job: 'transform.js', deps: ['silver'], args: { layers: ['gold'] } },
]
