import path from 'node:path'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import { PipelineError } from './errors.js'
import { openObjectStore, stageReader, type ObjectStore } from './s3/objectStore.js'
import { SnowflakeWarehouse, snowflakeSettings } from './warehouse/snowflakeWarehouse.js'
import type { Warehouse } from './warehouse/warehouse.js'

export interface Runtime {
  cfg: Config
  store: ObjectStore
  warehouse: Warehouse
  logger?: Logger
}

/**
 * The configured warehouse. With `inChildProcess`, DuckDB runs in a child
 * process of its own (warehouse/warehouseProcess.ts: the ingests, whose
 * memory is then the streaming's alone); the driver is loaded only where
 * the warehouse runs.
 */
export async function openWarehouse(cfg: Config, store: ObjectStore | undefined, opts: { inChildProcess?: boolean } = {}): Promise<Warehouse> {
  if (cfg.WAREHOUSE === 'duckdb') {
    const file = path.join(cfg.home, 'warehouse.duckdb')
    const tmpDir = path.join(cfg.home, 'tmp')
    if (opts.inChildProcess && store) {
      const { WarehouseProcess } = await import('./warehouse/warehouseProcess.js')
      return WarehouseProcess.open({ file, tmpDir, stage: stageReader(store) })
    }
    const { DuckDbWarehouse } = await import('./warehouse/duckdbWarehouse.js')
    return DuckDbWarehouse.open({ file, tmpDir, stage: store ? stageReader(store) : undefined })
  }
  if (cfg.WAREHOUSE === 'snowflake') {
    // snowflake-sdk itself is loaded on first use (SnowflakeWarehouse's loadSdk): DuckDB runs never pay for it.
    return SnowflakeWarehouse.open(snowflakeSettings(cfg))
  }
  throw new PipelineError('ERR_CONFIG', `invalid setting WAREHOUSE: "${String(cfg.WAREHOUSE)}" is not supported (use duckdb or snowflake)`)
}

/**
 * Opens the object store (starting the embedded S3 server when no bucket is
 * configured) and the warehouse for the length of `fn`, and always closes
 * both, so the embedded server stops, the DuckDB file lock is released and
 * the Snowflake session is logged out when the command ends.
 */
export async function withRuntime<T>(
  cfg: Config,
  fn: (rt: Runtime) => Promise<T>,
  opts: { warehouse?: boolean; logger?: Logger; warehouseInChildProcess?: boolean } = {},
): Promise<T> {
  const store = await openObjectStore(cfg)
  let warehouse: Warehouse | undefined
  try {
    if (opts.warehouse !== false) warehouse = await openWarehouse(cfg, store, { inChildProcess: opts.warehouseInChildProcess })
    return await fn({ cfg, store, warehouse: warehouse as Warehouse, logger: opts.logger })
  } finally {
    await warehouse?.close().catch(() => {})
    await store.close()
  }
}
