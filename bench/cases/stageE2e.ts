/**
 * `stage-e2e`: the whole log ingest of the input: embedded S3 → parser → CSV →
 * gzip → multipart upload to the stage → COPY into bronze.logs, with its
 * ledger row. The upload of the input to S3 is set-up, done beforehand in a
 * process of its own so it counts towards neither time nor memory.
 */
import { loadConfig, type Config } from '../../src/config.js'
import { ingestLogs } from '../../src/pipelines/ingestLogs.js'
import { uploadLogs } from '../../src/pipelines/uploadLogs.js'
import { withRuntime } from '../../src/runtime.js'
import type { Warehouse } from '../../src/warehouse/warehouse.js'
import { WarehouseProcess } from '../../src/warehouse/warehouseProcess.js'
import { stopwatch, type BenchCase } from '../harness.js'

/**
 * Defaults only, with CAREPLUS_HOME in the run's work folder: the embedded S3
 * server and a fresh DuckDB file, whatever the caller's environment or .env
 * says (a configured S3_BUCKET must never receive benchmark data).
 */
function benchConfig(workDir: string): Config {
  return loadConfig({ CAREPLUS_HOME: workDir, LOG_LEVEL: 'silent' }, workDir)
}

const stageE2e: BenchCase = {
  async prepare({ input, workDir }) {
    const cfg = benchConfig(workDir)
    await withRuntime(cfg, ({ store }) => uploadLogs({ store, prefix: cfg.S3_LOGS_PREFIX, paths: [input.file], concurrency: 1 }), { warehouse: false })
  },

  /**
   * Opened as `careplus ingest-logs` opens it: DuckDB in a process of its own
   * (src/warehouse/warehouseProcess.ts), whose peak is reported beside this
   * process's.
   */
  async run({ workDir }) {
    const cfg = benchConfig(workDir)
    let host: Warehouse | undefined
    const m = await withRuntime(cfg, async ({ store, warehouse }) => {
      host = warehouse
      const elapsed = stopwatch()
      const summary = await ingestLogs({ cfg, store, warehouse })
      const seconds = elapsed()
      const [loaded] = await warehouse.query('SELECT count(*) AS n FROM bronze.logs')
      if (summary.objectsLoaded !== 1 || Number(loaded?.n) !== summary.rows) {
        throw new Error(`stage-e2e: expected one object loaded with ${summary.rows} rows, got ${summary.objectsLoaded} objects and ${String(loaded?.n)} rows in bronze.logs`)
      }
      return { bytes: summary.bytes, events: summary.blocks, seconds }
    }, { warehouseInChildProcess: true })
    if (!(host instanceof WarehouseProcess) || host.peakRssMib === undefined) throw new Error('stage-e2e: the warehouse did not run in a process of its own')
    return { ...m, warehouse_peak_rss_mib: host.peakRssMib }
  },
}
export default stageE2e
