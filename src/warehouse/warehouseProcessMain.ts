/**
 * Child-process entry of WarehouseProcess (warehouseProcess.ts): opens the
 * DuckDB warehouse the parent names and executes its calls (WarehouseHost)
 * until it says close. Its COPYs' staged files are downloaded by the parent
 * (`stage-download`), so this process loads no S3 client. It never outlives
 * its parent: when the IPC channel closes without a close, the parent is
 * gone (killed) and so is this process, at once, its open transaction
 * uncommitted.
 */
import { WarehouseHost } from '../dag/warehouseHost.js'
import type { WarehouseCancel, WarehouseReply, WarehouseRequest } from '../dag/protocol.js'
import { isErrorCode, PipelineError } from '../errors.js'
import { DuckDbWarehouse } from './duckdbWarehouse.js'
import type { StageReader } from './warehouse.js'
import type { FromWarehouseProcess, ToWarehouseProcess } from './warehouseProcess.js'

/** The one caller: the parent. */
const OWNER = 'parent'

let closing = false
process.on('disconnect', () => {
  // SIGKILL rather than exit(): a COPY may be running on DuckDB's threads, and nothing of it may commit.
  if (!closing) process.kill(process.pid, 'SIGKILL')
})

function send(m: FromWarehouseProcess | WarehouseReply, then?: () => void): void {
  if (process.connected) process.send!(m, undefined, {}, () => then?.())
  else then?.()
}

/** Downloads asked of the parent, by id. */
const downloads = new Map<number, (error?: { code?: string; message: string; transient: boolean }) => void>()
let nextDownload = 1

/** The stage as the parent reads it for us. */
const parentStage: StageReader = {
  download(key, localPath, signal) {
    if (signal?.aborted) return Promise.reject(signal.reason as Error)
    const id = nextDownload++
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        downloads.delete(id)
        send({ type: 'stage-download-cancel', id })
        reject(signal!.reason as Error)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      downloads.set(id, (error) => {
        signal?.removeEventListener('abort', onAbort)
        if (!error) return resolve()
        reject(new PipelineError(isErrorCode(error.code) ? error.code : 'ERR_S3', error.message, { transient: error.transient }))
      })
      send({ type: 'stage-download', id, key, localPath })
    })
  },
}

let warehouse: DuckDbWarehouse | undefined
let host: WarehouseHost | undefined

async function open(file: string, tmpDir: string): Promise<void> {
  try {
    warehouse = await DuckDbWarehouse.open({ file, tmpDir, stage: parentStage })
    host = new WarehouseHost(warehouse)
    send({ type: 'warehouse-ready' })
  } catch (err) {
    const e = err as Error & { code?: string }
    send({ type: 'warehouse-open-failed', error: { code: e.code, message: e.message } }, () => process.exit(1))
  }
}

async function close(): Promise<void> {
  closing = true
  await host?.release(OWNER)
  await warehouse?.close().catch(() => {})
  send({ type: 'warehouse-closed', peakRssMib: process.resourceUsage().maxRSS / 1024 }, () => process.exit(0))
}

process.on('message', (m: ToWarehouseProcess | WarehouseRequest | WarehouseCancel) => {
  if (m.type === 'warehouse-open') void open(m.file, m.tmpDir)
  else if (m.type === 'warehouse') void host?.handle(OWNER, m, (r) => send(r))
  else if (m.type === 'warehouse-cancel') host?.cancel(OWNER, m)
  else if (m.type === 'stage-downloaded') {
    const done = downloads.get(m.id)
    downloads.delete(m.id)
    done?.(m.error)
  } else if (m.type === 'warehouse-close') void close()
})
