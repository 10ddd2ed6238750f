import '../../src/processSetup.js'
import path from 'node:path'
import type { Test } from 'tap'
import { loadConfig, type Config } from '../../src/config.js'
import { startEmbeddedS3, EMBEDDED_CREDENTIALS, type EmbeddedS3 } from '../../src/s3/embeddedS3.js'
import { storeFor, stageReader, type ObjectStore } from '../../src/s3/objectStore.js'
import { DuckDbWarehouse } from '../../src/warehouse/duckdbWarehouse.js'

export interface TestRuntime {
  home: string
  cfg: Config
  server: EmbeddedS3
  store: ObjectStore
  warehouse: DuckDbWarehouse
  /** Closes and reopens the warehouse (a fresh connection sees only committed data). */
  reopenWarehouse(): Promise<DuckDbWarehouse>
}

/**
 * A real embedded S3 server (its own process, as in production) and a real
 * DuckDB file in a fresh folder, torn down when the test ends.
 */
export async function testRuntime(t: Test, env: Record<string, string> = {}): Promise<TestRuntime> {
  const home = t.testdir()
  const server = await startEmbeddedS3({ dir: path.join(home, 's3') })
  const store = storeFor({ endpoint: server.endpoint, bucket: server.bucket, region: 'us-east-1', credentials: EMBEDDED_CREDENTIALS, embedded: server })
  const cfg = loadConfig({ CAREPLUS_HOME: home, LOG_LEVEL: 'silent', ...env }, home)
  const open = () => DuckDbWarehouse.open({ file: path.join(home, 'warehouse.duckdb'), tmpDir: path.join(home, 'tmp'), stage: stageReader(store) })
  const rt: TestRuntime = {
    home,
    cfg,
    server,
    store,
    warehouse: await open(),
    async reopenWarehouse() {
      await rt.warehouse.close()
      rt.warehouse = await open()
      return rt.warehouse
    },
  }
  t.teardown(async () => {
    await rt.warehouse.close().catch(() => {})
    await store.close()
  })
  return rt
}

