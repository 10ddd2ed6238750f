import { pipeline } from 'node:stream/promises'
import { createBlockParserStream } from '../../parsers/blockParserStream.js'
import { LogBatchStage } from '../../sinks/logStageSink.js'
import type { Config } from '../config.js'
import { PipelineError } from '../errors.js'
import { BRONZE_LOG_REJECTS, BRONZE_LOGS } from '../load/bronzeSchema.js'
import { commitLoad } from '../load/commitLoad.js'
import { loadedVersions } from '../load/loadLedger.js'
import { sqlTimestamp } from '../load/sqlTimestamp.js'
import { logBatchFolders } from '../load/stageLayout.js'
import { newRunId } from '../runId.js'
import { listObjects, type ObjectInfo, type ObjectStore } from '../s3/objectStore.js'
import { isLogObject, LOGS_SOURCE, openLogObject, sourceFileOf } from '../sources/logObjects.js'
import { withQueryTag } from '../warehouse/queryTag.js'
import type { Warehouse } from '../warehouse/warehouse.js'
import { forEachConcurrent, ItemCursor } from './concurrency.js'

export { LOGS_SOURCE } from '../sources/logObjects.js'

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
  /** Load batches committed: each one transaction, one COPY per table. */
  batches: number
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

/** One object's part of a batch: what it read and staged. */
interface StagedObject {
  obj: ObjectInfo
  bytes: number
  blocks: number
  rows: number
  rejects: number
}

/**
 * One run of the log ingest: list the log objects, skip the versions the
 * ledger already holds, and stream each other object
 * S3 body → (gunzip) → block parser → CSV → gzip → stage. Objects are staged
 * in load batches (up to STAGE_FILE_MAX_BYTES of staged data or
 * LOAD_BATCH_MAX_OBJECTS objects), small ones sharing staged files, and each
 * batch commits in one transaction: one COPY per bronze table, one ledger row
 * per object. A batch holds whole objects only; a failure abandons the batch
 * in progress, while the batches before it stay committed.
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
    batches: 0,
    seconds: 0,
    mbPerSec: 0,
  }

  await warehouse.migrate()
  const ledger = await loadedVersions(warehouse, LOGS_SOURCE)
  const todo: ObjectInfo[] = []
  for await (const obj of listObjects(store, cfg.S3_LOGS_PREFIX, signal)) {
    summary.objectsListed++
    if (!isLogObject(obj.key)) summary.objectsIgnored++
    else if (ledger.get(sourceFileOf(obj)) === obj.etag) summary.objectsUnchanged++
    else todo.push(obj)
  }
  opts.onProgress?.({ type: 'plan', objects: todo.length, bytes: todo.reduce((n, o) => n + o.size, 0) })

  const cursor = new ItemCursor(todo)
  while (!cursor.done) {
    signal?.throwIfAborted()
    const batch = summary.batches + 1
    const stage = new LogBatchStage({
      store,
      folders: logBatchFolders(cfg.S3_STAGE_PREFIX, runId, batch),
      maxFileBytes: cfg.STAGE_FILE_MAX_BYTES,
      gzipLevel: opts.gzipLevel,
      signal,
    })
    const members: StagedObject[] = []
    let taken = 0
    try {
      await forEachConcurrent(
        cursor,
        cfg.INGEST_CONCURRENCY,
        async (obj, objSignal) => {
          taken++
          members.push(await stageLogObject({ ...opts, obj, stage, signal: objSignal }))
        },
        signal,
        // Objects already in flight finish in this batch, so it may pass the limit by their output.
        () => taken < cfg.LOAD_BATCH_MAX_OBJECTS && stage.stagedBytes < cfg.STAGE_FILE_MAX_BYTES,
      )
    } catch (err) {
      await stage.abort(err as Error)
      throw err
    }
    const staged = await stage.close()
    const files = [...staged.rows.files, ...staged.rejects.files].map((f) => f.key)
    await warehouse.transaction((tx) =>
      commitLoad(
        tx,
        {
          source: LOGS_SOURCE,
          ctx: { runId, loadedAt: sqlTimestamp() },
          targets: [
            { table: BRONZE_LOGS, files: staged.rows.files.map((f) => f.key), rows: staged.rows.count },
            { table: BRONZE_LOG_REJECTS, files: staged.rejects.files.map((f) => f.key), rows: staged.rejects.count },
          ],
          objects: members.map((m) => ({
            key: sourceFileOf(m.obj),
            etag: m.obj.etag,
            sizeBytes: m.obj.size,
            blocks: m.blocks,
            rows: m.rows,
            rejects: m.rejects,
            stagedFiles: files,
          })),
          replace: members.filter((m) => ledger.has(sourceFileOf(m.obj))).map((m) => sourceFileOf(m.obj)),
          reconcileBySourceFile: { rows: BRONZE_LOGS, rejects: BRONZE_LOG_REJECTS },
        },
        signal,
      ),
    )
    summary.batches++
    summary.stagedFiles += files.length
    for (const m of members) {
      summary.objectsLoaded++
      summary.bytes += m.bytes
      summary.blocks += m.blocks
      summary.rows += m.rows
      summary.rejects += m.rejects
      opts.onProgress?.({ type: 'object-loaded', key: m.obj.key, rows: m.rows, rejects: m.rejects })
    }
  }

  summary.seconds = Number(process.hrtime.bigint() - started) / 1e9
  summary.mbPerSec = summary.seconds > 0 ? summary.bytes / 1e6 / summary.seconds : 0
  return summary
}

/** Streams one object into its batch's staged files and checks that every block was staged as a row or a reject. */
async function stageLogObject(opts: IngestLogsOptions & { obj: ObjectInfo; stage: LogBatchStage; signal: AbortSignal }): Promise<StagedObject> {
  const { cfg, store, obj, signal } = opts
  let bytes = 0
  const parser = createBlockParserStream({ sourceFile: sourceFileOf(obj), maxBlockBytes: cfg.MAX_BLOCK_BYTES })
  const sink = opts.stage.objectSink()
  try {
    const source = await openLogObject(store, obj, {
      signal,
      onBytes: (n) => {
        bytes += n
        opts.onProgress?.({ type: 'bytes', bytes: n })
      },
    })
    await pipeline([...source, parser, sink], { signal })
  } catch (err) {
    if (signal.aborted) throw err
    if (err instanceof PipelineError) throw err
    throw new PipelineError('ERR_INGEST_OBJECT', `${store.url}/${obj.key}: ${(err as Error).message}`, { cause: err })
  }
  const stats = parser.stats
  if (stats.blocks !== stats.rows + stats.rejects || sink.rows !== stats.rows || sink.rejects !== stats.rejects) {
    throw new PipelineError(
      'ERR_RECONCILE',
      `${obj.key}: blocks ${stats.blocks} ≠ rows ${stats.rows} + rejects ${stats.rejects}, or staged ${sink.rows}/${sink.rejects}`,
    )
  }
  return { obj, bytes, blocks: stats.blocks, rows: stats.rows, rejects: stats.rejects }
}
