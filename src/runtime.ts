import path from 'node:path'
import type { Logger } from 'pino'
import type { Config } from './config.js'
import { PipelineError } from './errors.js'
import { openObjectStore, stageReader, type ObjectStore } from './s3/objectStore.js'
import { DuckDbWarehouse } from './warehouse/duckdbWarehouse.js'
import { SnowflakeWarehouse, snowflakeSettings } from './warehouse/snowflakeWarehouse.js'
import type { Warehouse } from './warehouse/warehouse.js'

export interface Runtime {
  cfg: Config
  store: ObjectStore
  warehouse: Warehouse
  logger?: Logger
}

export async function openWarehouse(cfg: Config, store: ObjectStore | undefined): Promise<Warehouse> {
  if (cfg.WAREHOUSE === 'duckdb') {
    return DuckDbWarehouse.open({
      file: path.join(cfg.home, 'warehouse.duckdb'),
      tmpDir: path.join(cfg.home, 'tmp'),
      stage: store ? stageReader(store) : undefined,
    })
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
export async function withRuntime<T>(cfg: Config, fn: (rt: Runtime) => Promise<T>, opts: { warehouse?: boolean; logger?: Logger } = {}): Promise<T> {
  const store = await openObjectStore(cfg)
  let warehouse: Warehouse | undefined
  try {
    if (opts.warehouse !== false) warehouse = await openWarehouse(cfg, store)
    return await fn({ cfg, store, warehouse: warehouse as Warehouse, logger: opts.logger })
  } finally {
    await warehouse?.close().catch(() => {})
    await store.close()
  }
}
