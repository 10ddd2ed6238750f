import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { createBlockParserStream } from '../../parsers/blockParserStream.js'
import { LOG_COLUMNS, REJECT_COLUMNS } from '../../parsers/logRecord.js'
import { LogStageSink } from '../../sinks/logStageSink.js'
import type { Config } from '../config.js'
import { PipelineError } from '../errors.js'
import { commitObjectLoad, loadedVersions } from '../ledger/loadLedger.js'
import { newRunId } from '../runId.js'
import { withQueryTag } from '../warehouse/queryTag.js'
import { listObjects, openObject, type ObjectInfo, type ObjectStore } from '../s3/objectStore.js'
import type { Warehouse } from '../warehouse/warehouse.js'
import { forEachConcurrent } from './concurrency.js'

export const LOGS_SOURCE = 'logs'
/** Object names the log ingest reads; anything else under the prefix is counted as ignored. */
const LOG_OBJECT = /\.log(\.gz)?$/

export interface IngestLogsSummary {
  runId: string
  objectsListed: number
  objectsLoaded: number
  objectsUnchanged: number
  objectsIgnored: number
  /** Source bytes read (as stored, so compressed for `.log.gz`). */
  bytes: number
  blocks: number
  rows: number
  rejects: number
  stagedFiles: number
  seconds: number
  mbPerSec: number
}

export type IngestProgress =
  | { type: 'plan'; objects: number; bytes: number }
  | { type: 'bytes'; bytes: number }
  | { type: 'object-loaded'; key: string; rows: number; rejects: number }

export interface IngestLogsOptions {
  cfg: Config
  store: ObjectStore
  warehouse: Warehouse
  signal?: AbortSignal
  runId?: string
  onProgress?: (p: IngestProgress) => void
  gzipLevel?: number
}

/**
 * One run of the log ingest: list the log objects, skip the versions the
 * ledger already holds, and for each other object stream
 * S3 body → (gunzip) → block parser → CSV → gzip → stage, then COPY the
 * staged files into bronze in one transaction with its ledger row.
 */
export function ingestLogs(opts: IngestLogsOptions): Promise<IngestLogsSummary> {
  const runId = opts.runId ?? newRunId()
  // Every warehouse statement of the run is tagged with its id (Snowflake's QUERY_TAG).
  return withQueryTag({ run_id: runId, task: 'ingest-logs' }, () => ingestLogsRun({ ...opts, runId }))
}

async function ingestLogsRun(opts: IngestLogsOptions & { runId: string }): Promise<IngestLogsSummary> {
  const { cfg, store, warehouse, signal, runId } = opts
  const started = process.hrtime.bigint()
  const summary: IngestLogsSummary = {
    runId,
    objectsListed: 0,
    objectsLoaded: 0,
    objectsUnchanged: 0,
    objectsIgnored: 0,
    bytes: 0,
    blocks: 0,
    rows: 0,
    rejects: 0,
    stagedFiles: 0,
    seconds: 0,
    mbPerSec: 0,
  }

  await warehouse.migrate()
  const ledger = await loadedVersions(warehouse, LOGS_SOURCE)
  const todo: ObjectInfo[] = []
  for await (const obj of listObjects(store, cfg.S3_LOGS_PREFIX, signal)) {
    summary.objectsListed++
    if (!LOG_OBJECT.test(obj.key)) summary.objectsIgnored++
    else if (ledger.get(obj.key) === obj.etag) summary.objectsUnchanged++
    else todo.push(obj)
  }
  opts.onProgress?.({ type: 'plan', objects: todo.length, bytes: todo.reduce((n, o) => n + o.size, 0) })

  await forEachConcurrent(
    todo,
    cfg.INGEST_CONCURRENCY,
    async (obj, objSignal) => {
      const r = await ingestLogObject({ ...opts, runId, obj, signal: objSignal })
      summary.objectsLoaded++
      summary.bytes += r.bytes
      summary.blocks += r.blocks
      summary.rows += r.rows
      summary.rejects += r.rejects
      summary.stagedFiles += r.stagedFiles
      opts.onProgress?.({ type: 'object-loaded', key: obj.key, rows: r.rows, rejects: r.rejects })
    },
    signal,
  )

  summary.seconds = Number(process.hrtime.bigint() - started) / 1e9
  summary.mbPerSec = summary.seconds > 0 ? summary.bytes / 1e6 / summary.seconds : 0
  return summary
}

/** The stage folder of one source object version: deterministic, so a retry overwrites. */
export function stagePrefixFor(cfg: Config, obj: { key: string; etag: string }): string {
  const rel = obj.key.startsWith(cfg.S3_LOGS_PREFIX) ? obj.key.slice(cfg.S3_LOGS_PREFIX.length) : obj.key
  return `${cfg.S3_STAGE_PREFIX}${LOGS_SOURCE}/${rel}/${obj.etag}/`
}

async function ingestLogObject(
  opts: IngestLogsOptions & { runId: string; obj: ObjectInfo; signal: AbortSignal },
): Promise<{ bytes: number; blocks: number; rows: number; rejects: number; stagedFiles: number }> {
  const { cfg, store, obj, signal } = opts
  const body = await openObject(store, obj.key, { ifMatch: obj.etag, signal })
  let bytes = 0
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length
      opts.onProgress?.({ type: 'bytes', bytes: chunk.length })
      cb(null, chunk)
    },
  })
  const parser = createBlockParserStream({ sourceFile: obj.key, maxBlockBytes: cfg.MAX_BLOCK_BYTES })
  const sink = new LogStageSink({
    store,
    keyPrefix: stagePrefixFor(cfg, obj),
    maxFileBytes: cfg.STAGE_FILE_MAX_BYTES,
    gzipLevel: opts.gzipLevel,
    signal,
  })
  try {
    if (obj.key.endsWith('.gz')) await pipeline(body, counter, createGunzip(), parser, sink, { signal })
    else await pipeline(body, counter, parser, sink, { signal })
  } catch (err) {
    if (signal.aborted) throw err
    if (err instanceof PipelineError) throw err
    throw new PipelineError('ERR_INGEST_OBJECT', `${store.url}/${obj.key}: ${(err as Error).message}`, { cause: err })
  }
  const stats = parser.stats
  const staged = sink.staged
  if (stats.blocks !== stats.rows + stats.rejects || staged.rows.count !== stats.rows || staged.rejects.count !== stats.rejects) {
    throw new PipelineError(
      'ERR_RECONCILE',
      `${obj.key}: blocks ${stats.blocks} ≠ rows ${stats.rows} + rejects ${stats.rejects}, or staged ${staged.rows.count}/${staged.rejects.count}`,
    )
  }
  await commitObjectLoad(
    opts.warehouse,
    {
      source: LOGS_SOURCE,
      objectKey: obj.key,
      etag: obj.etag,
      sizeBytes: obj.size,
      blocks: stats.blocks,
      runId: opts.runId,
      sourceColumn: '_source_file',
      targets: [
        { table: 'bronze.logs', csvColumns: LOG_COLUMNS, files: staged.rows.files, rows: staged.rows.count },
        { table: 'bronze.log_rejects', csvColumns: REJECT_COLUMNS, files: staged.rejects.files, rows: staged.rejects.count },
      ],
    },
    signal,
  )
  return {
    bytes,
    blocks: stats.blocks,
    rows: stats.rows,
    rejects: stats.rejects,
    stagedFiles: staged.rows.files.length + staged.rejects.files.length,
  }
}
