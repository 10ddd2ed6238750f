import path from 'node:path'
import type { Test } from 'tap'
import { loadConfig, type Config } from '../../src/config.js'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { ingestLogs, type IngestLogsSummary } from '../../src/pipelines/ingestLogs.js'
import { uploadLogs } from '../../src/pipelines/uploadLogs.js'
import { EMBEDDED_CREDENTIALS } from '../../src/s3/embeddedS3.js'
import { stageReader, storeFor, type ObjectStore } from '../../src/s3/objectStore.js'
import { DuckDbWarehouse } from '../../src/warehouse/duckdbWarehouse.js'
import { testRuntime } from '../support/runtime.js'
import { startFaultProxy, type FaultProxy } from './faultProxy.js'

export interface FaultRuntime {
  /** The test's folder (t.testdir(): call it once per test). */
  home: string
  cfg: Config
  /** The store as the pipeline sees it: every request through the proxy. */
  store: ObjectStore
  /** The store without the proxy, for set-up. */
  direct: ObjectStore
  proxy: FaultProxy
  warehouse: DuckDbWarehouse
  /** What was generated and uploaded. */
  objects: number
  events: number
  ingest(extra?: { signal?: AbortSignal }): Promise<IngestLogsSummary>
}

/**
 * The embedded S3 server with generated logs on it, the fault proxy in front,
 * and a pipeline (object store, DuckDB, its COPY downloads) that reaches S3
 * only through the proxy. `env` adds settings (e.g. a short S3_READ_TIMEOUT_MS).
 */
export async function faultRuntime(t: Test, opts: { days: number; sizeBytes: number; seed: number; env?: Record<string, string> }): Promise<FaultRuntime> {
  const rt = await testRuntime(t)
  const dir = path.join(rt.home, 'logs')
  const gen = await generateLogs({ outDir: dir, days: opts.days, sizeBytes: opts.sizeBytes, seed: opts.seed })
  await uploadLogs({ store: rt.store, prefix: 'logs/', paths: [dir], concurrency: 4 })
  const proxy = await startFaultProxy(t, rt.server.endpoint)
  const cfg = loadConfig({ CAREPLUS_HOME: rt.home, LOG_LEVEL: 'silent', ...opts.env }, rt.home)
  const store = storeFor({ endpoint: proxy.url, bucket: rt.store.bucket, region: 'us-east-1', credentials: EMBEDDED_CREDENTIALS, maxAttempts: cfg.S3_MAX_ATTEMPTS, idleTimeoutMs: cfg.S3_READ_TIMEOUT_MS })
  t.teardown(() => store.client.destroy())
  await rt.warehouse.close()
  const warehouse = await DuckDbWarehouse.open({ file: path.join(rt.home, 'warehouse.duckdb'), tmpDir: path.join(rt.home, 'tmp'), stage: stageReader(store) })
  t.teardown(() => warehouse.close())
  return {
    home: rt.home,
    cfg,
    store,
    direct: rt.store,
    proxy,
    warehouse,
    objects: gen.files.length,
    events: gen.events,
    ingest: (extra = {}) => ingestLogs({ cfg, store, warehouse, ...extra }),
  }
}

/** Every block a row or a reject, once by (_source_file, _source_line); one ledger row per object. */
export async function exactCounts(frt: FaultRuntime): Promise<{ rows: number; rejects: number; distinct: number; ledger: number; quarantined: number }> {
  const [r] = await frt.warehouse.query(
    `SELECT (SELECT count(*) FROM bronze.logs) AS rows, (SELECT count(*) FROM bronze.log_rejects) AS rejects,
            (SELECT count(*) FROM (SELECT DISTINCT _source_file, _source_line FROM bronze.logs)) AS distinct,
            (SELECT count(*) FROM ops.load_ledger) AS ledger, (SELECT count(*) FROM ops.load_failures) AS quarantined`,
  )
  return r as { rows: number; rejects: number; distinct: number; ledger: number; quarantined: number }
}
