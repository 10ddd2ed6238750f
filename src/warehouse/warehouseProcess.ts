/**
 * The DuckDB warehouse in a child process of its own, for the one-off
 * ingests (`careplus ingest-logs`, `node jobs/ingest-logs.js`): the ingest
 * process streams (S3 → parser → CSV → gzip → stage) and sends its warehouse
 * calls over the child's IPC channel, the same messages a job in the
 * daemon's worker thread sends to the daemon's main thread (RemoteWarehouse
 * and WarehouseHost). The child loads the DuckDB driver, holds the file's
 * lock, runs the COPYs and the ledger's transactions, and exits at close.
 * It has no S3 client: a COPY's local copies of staged files are downloaded
 * by the parent, on the child's request, into the child's copy folder.
 *
 * Why a process: DuckDB's driver, its open file and a COPY's buffers are
 * ~60 MiB of RSS (measured on the bench's 100 MB ingest: the driver 20 MiB,
 * the open file 16 MiB, a COPY ~25 MiB beyond the streaming peak) that would
 * otherwise sit on top of the streaming's; apart, the ingest's memory is the
 * streaming's alone, and the load's is bounded by its own memory limit
 * (LOAD_SETTINGS) and returned to the system when the child exits. The
 * machine's total is higher by one Node process (~40 MiB): bench/'s
 * `stage-e2e` reports both processes' peaks.
 *
 * Exactly-once is unchanged: a transaction is the child's, and commits only
 * when the ingest says so. If the ingest dies (kill -9), the child's IPC
 * channel closes and it kills itself at once, leaving its transaction
 * uncommitted, as an ingest killed with DuckDB in-process did.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { PipelineError, isErrorCode, isTransient } from '../errors.js'
import { builtEntry } from '../builtEntry.js'
import { RemoteWarehouse, type WarehousePort } from './remoteWarehouse.js'
import type { StageReader } from './warehouse.js'

/** What the child needs to open the warehouse: a file and a folder, nothing else (no settings, no credentials). */
export interface WarehouseOpenMessage {
  type: 'warehouse-open'
  file: string
  tmpDir: string
}

/** Parent → child, besides RemoteWarehouse's requests. */
export type ToWarehouseProcess =
  | WarehouseOpenMessage
  | { type: 'warehouse-close' }
  /** The answer to `stage-download`: the file is there, or why not. */
  | { type: 'stage-downloaded'; id: number; error?: { code?: string; message: string; transient: boolean } }

/** Child → parent, besides the replies. */
export type FromWarehouseProcess =
  | { type: 'warehouse-ready' }
  | { type: 'warehouse-open-failed'; error: { code?: string; message: string } }
  /** The answer to `warehouse-close`: the child's peak RSS, for the bench. */
  | { type: 'warehouse-closed'; peakRssMib: number }
  /** A COPY needs a staged file as a local copy: the parent, which holds the S3 client, downloads it. */
  | { type: 'stage-download'; id: number; key: string; localPath: string }
  /** The COPY that asked was aborted. */
  | { type: 'stage-download-cancel'; id: number }

const FROM_CHILD = new Set<string>(['warehouse-ready', 'warehouse-open-failed', 'warehouse-closed', 'stage-download', 'stage-download-cancel'])

function isProcessMessage(m: unknown): m is FromWarehouseProcess {
  return typeof m === 'object' && m !== null && FROM_CHILD.has((m as { type?: string }).type ?? '')
}

/** A child process's IPC channel as RemoteWarehouse's port. */
function ipcPort(child: ChildProcess): WarehousePort {
  return {
    postMessage: (m) => {
      // Named case: after the child has exited, a send fails with ERR_IPC_CHANNEL_CLOSED; the call is rejected by abandon() instead.
      if (child.connected) child.send(m as object)
    },
    on: (_e, listener) => child.on('message', listener),
    off: (_e, listener) => child.off('message', listener),
  }
}

export class WarehouseProcess extends RemoteWarehouse {
  /** The child's peak RSS in MiB, known once it has closed. */
  peakRssMib: number | undefined
  private readonly exited: Promise<void>
  private closing = false

  /** Downloads in progress for the child's COPYs, by the child's id. */
  private readonly downloads = new Map<number, AbortController>()

  private constructor(
    private readonly child: ChildProcess,
    private readonly stage: StageReader | undefined,
  ) {
    super('duckdb', ipcPort(child))
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()))
    child.once('exit', (code, sig) => {
      for (const c of this.downloads.values()) c.abort(new Error('the warehouse process exited'))
      if (!this.closing) this.abandon(new PipelineError('ERR_WAREHOUSE', `the warehouse process exited unexpectedly (${sig ?? `exit code ${code}`})`, { transient: true }))
    })
    // A failed send or kill: the calls cannot be answered (an 'error' without a listener would throw).
    child.on('error', (err) => this.abandon(new PipelineError('ERR_WAREHOUSE', `the warehouse process failed: ${err.message}`, { transient: true })))
    child.on('message', (m: unknown) => {
      if (!isProcessMessage(m)) return
      if (m.type === 'stage-download') void this.download(m.id, m.key, m.localPath)
      else if (m.type === 'stage-download-cancel') this.downloads.get(m.id)?.abort(new Error('the COPY was cancelled'))
    })
  }

  private async download(id: number, key: string, localPath: string): Promise<void> {
    const controller = new AbortController()
    this.downloads.set(id, controller)
    let reply: ToWarehouseProcess
    try {
      if (!this.stage) throw new PipelineError('ERR_WAREHOUSE', 'the warehouse process was opened without a stage to COPY from')
      await this.stage.download(key, localPath, controller.signal)
      reply = { type: 'stage-downloaded', id }
    } catch (err) {
      const e = err as Error & { code?: string }
      reply = { type: 'stage-downloaded', id, error: { code: e.code, message: e.message, transient: isTransient(e) } }
    } finally {
      this.downloads.delete(id)
    }
    if (this.child.connected) this.child.send(reply)
  }

  /** Starts the child and opens `file` in it; `stage` serves its COPYs' downloads. */
  static async open(opts: { file: string; tmpDir: string; stage?: StageReader }): Promise<WarehouseProcess> {
    const child = fork(builtEntry('src/warehouse/warehouseProcessMain.ts', 'warehouse process'), [], {
      serialization: 'advanced',
      // Its own process group: a terminal's Ctrl-C reaches only the ingest, which rolls back through the child before closing it.
      detached: true,
      // Its stdout is not the command's: nothing the child might print can reach `--json` output. Its stderr is (a crash's message).
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      // The parent's loaders and preloads (tap's TypeScript and coverage, a bench's RSS reporter) must not run in the child.
      execArgv: [],
      env: { ...process.env, NODE_OPTIONS: '' },
    })
    const wh = new WarehouseProcess(child, opts.stage)
    try {
      await new Promise<void>((resolve, reject) => {
        const onMessage = (m: unknown): void => {
          if (!isProcessMessage(m)) return
          if (m.type === 'warehouse-ready') settle()
          else if (m.type === 'warehouse-open-failed') {
            const { code, message } = m.error
            settle(new PipelineError(isErrorCode(code) ? code : 'ERR_WAREHOUSE', message))
          }
        }
        const onExit = (code: number | null, sig: NodeJS.Signals | null): void =>
          settle(new PipelineError('ERR_WAREHOUSE', `the warehouse process exited before opening the warehouse (${sig ?? `exit code ${code}`})`))
        const onError = (err: Error): void => settle(new PipelineError('ERR_WAREHOUSE', `cannot start the warehouse process: ${err.message}`))
        const settle = (err?: Error): void => {
          child.off('message', onMessage).off('exit', onExit).off('error', onError)
          if (err) reject(err)
          else resolve()
        }
        child.on('message', onMessage).once('exit', onExit).once('error', onError)
        child.send({ type: 'warehouse-open', file: opts.file, tmpDir: opts.tmpDir } satisfies WarehouseOpenMessage)
      })
    } catch (err) {
      wh.closing = true
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await wh.exited
      throw err
    }
    return wh
  }

  /** The child's process id. */
  get pid(): number | undefined {
    return this.child.pid
  }

  /** Closes the warehouse in the child (rolling back whatever is still open) and waits for the child to exit. */
  override async close(): Promise<void> {
    await super.close()
    if (this.closing) return this.exited
    this.closing = true
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const closed = new Promise<void>((resolve) => {
      this.child.on('message', (m: unknown) => {
        if (isProcessMessage(m) && m.type === 'warehouse-closed') {
          this.peakRssMib = m.peakRssMib
          resolve()
        }
      })
      void this.exited.then(resolve)
    })
    this.child.send({ type: 'warehouse-close' } satisfies ToWarehouseProcess)
    await closed
    await this.exited
  }
}
