import { pipeline } from 'node:stream/promises'
import { createBlockParserStream } from '../../parsers/blockParserStream.js'
import { LogBatchStage } from '../../sinks/logStageSink.js'
import type { Config } from '../config.js'
import { PipelineError } from '../errors.js'
import { BRONZE_LOG_REJECTS, BRONZE_LOGS } from '../load/bronzeSchema.js'
import { commitLoad } from '../load/commitLoad.js'
import { quarantinedObjects } from '../load/loadFailures.js'
import { loadedVersions } from '../load/loadLedger.js'
import { sqlTimestamp } from '../load/sqlTimestamp.js'
import { removeStageLeftovers } from '../load/stageLeftovers.js'
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
  /** Skipped: quarantined before with the same ETag (`careplus failures`; `--retry-failed` tries them again). */
  objectsQuarantined: number
  /** Failed in this run, now quarantined: listed in `failures`. */
  objectsFailed: number
  /** Changed or deleted while being read: not loaded now, loaded by the next run. */
  objectsChanged: number
  /** Source bytes read (as stored, so compressed for `.log.gz`). */
  bytes: number
  blocks: number
  rows: number
  rejects: number
  stagedFiles: number
  /** Load batches committed: each one transaction, one COPY per table. */
  batches: number
  /** Staged files of earlier runs that never committed, removed at the start. */
  leftoversRemoved: number
  seconds: number
  mbPerSec: number
  /** The objects this run quarantined, with why: a run with any ends `success_with_failures`. */
  failures: Array<{ key: string; etag: string; code: string; reason: string }>
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
  /** Try quarantined objects again even though their ETag did not change (`ingest-logs --retry-failed`). */
  retryFailed?: boolean
}

/** One object's part of a batch: what it read and staged, or why it did not make it. */
type StagedObject =
  | { obj: ObjectInfo; outcome: 'staged'; bytes: number; blocks: number; rows: number; rejects: number }
  | { obj: ObjectInfo; outcome: 'failed' | 'changed'; bytes: number; error: PipelineError }

/**
 * One run of the log ingest: list the log objects, skip the versions the
 * ledger already holds (and those quarantined), and stream each other object
 * S3 body → (gunzip) → block parser → CSV → gzip → stage. Objects are staged
 * in load batches (up to STAGE_FILE_MAX_BYTES of staged data or
 * LOAD_BATCH_MAX_OBJECTS objects), small ones sharing staged files, and each
 * batch commits in one transaction: one COPY per bronze table, one ledger row
 * per object. A batch never keeps part of an object: one that cannot be read
 * to the end is quarantined in the batch's transaction and the others load
 * (past MAX_FAILED_OBJECTS in a run, the run fails); any other failure
 * abandons the batch in progress, while the batches before it stay committed.
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
    objectsQuarantined: 0,
    objectsFailed: 0,
    objectsChanged: 0,
    bytes: 0,
    blocks: 0,
    rows: 0,
    rejects: 0,
    stagedFiles: 0,
    batches: 0,
    leftoversRemoved: 0,
    seconds: 0,
    mbPerSec: 0,
    failures: [],
  }

  await warehouse.migrate()
  const ledger = await loadedVersions(warehouse, LOGS_SOURCE)
  const quarantine = await quarantinedObjects(warehouse, LOGS_SOURCE)
  const todo: ObjectInfo[] = []
  for await (const obj of listObjects(store, cfg.S3_LOGS_PREFIX, signal)) {
    summary.objectsListed++
    const key = sourceFileOf(obj)
    if (!isLogObject(obj.key)) summary.objectsIgnored++
    else if (ledger.get(key) === obj.etag) summary.objectsUnchanged++
    else if (quarantine.get(key)?.etag === obj.etag && !opts.retryFailed) summary.objectsQuarantined++
    else todo.push(obj)
  }
  // Before staging anything of its own (and after the listing, which tells first when S3 cannot be reached).
  summary.leftoversRemoved = (await removeStageLeftovers(store, warehouse, { stagePrefix: cfg.S3_STAGE_PREFIX, source: 'logs', currentRunId: runId, signal })).length
  opts.onProgress?.({ type: 'plan', objects: todo.length, bytes: todo.reduce((n, o) => n + o.size, 0) })

  let failedInRun = 0
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
          const m = await stageLogObject({ ...opts, obj, stage, signal: objSignal })
          members.push(m)
          if (m.outcome === 'failed' && ++failedInRun > cfg.MAX_FAILED_OBJECTS) {
            throw new PipelineError(
              'ERR_TOO_MANY_FAILED_OBJECTS',
              `${failedInRun} log objects failed in this run, more than MAX_FAILED_OBJECTS=${cfg.MAX_FAILED_OBJECTS} (e.g. ${obj.key}: ${m.error.message}): ` +
                'so many bad objects is a configuration problem (wrong S3_LOGS_PREFIX, not log files, access) rather than bad data; nothing of this batch was loaded',
            )
          }
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
    const loaded = members.flatMap((m) => (m.outcome === 'staged' ? [m] : []))
    const failed = members.flatMap((m) => (m.outcome === 'failed' ? [m] : []))
    const now = sqlTimestamp()
    await warehouse.transaction((tx) =>
      commitLoad(
        tx,
        {
          source: LOGS_SOURCE,
          ctx: { runId, loadedAt: now },
          targets: [
            { table: BRONZE_LOGS, files: staged.rows.files.map((f) => f.key), rows: staged.rows.count },
            { table: BRONZE_LOG_REJECTS, files: staged.rejects.files.map((f) => f.key), rows: staged.rejects.count },
          ],
          objects: loaded.map((m) => ({
            key: sourceFileOf(m.obj),
            etag: m.obj.etag,
            sizeBytes: m.obj.size,
            blocks: m.blocks,
            rows: m.rows,
            rejects: m.rejects,
            stagedFiles: files,
          })),
          replace: loaded.filter((m) => ledger.has(sourceFileOf(m.obj))).map((m) => sourceFileOf(m.obj)),
          reconcileBySourceFile: { rows: BRONZE_LOGS, rejects: BRONZE_LOG_REJECTS },
          discard: members.filter((m) => m.outcome !== 'staged').map((m) => sourceFileOf(m.obj)),
          failed: failed.map((m) => {
            const key = sourceFileOf(m.obj)
            // The same version failing again counts on; a new version starts over.
            const before = quarantine.get(key)
            const same = before?.etag === m.obj.etag ? before : undefined
            return {
              key,
              etag: m.obj.etag,
              sizeBytes: m.obj.size,
              code: m.error.code,
              reason: m.error.message,
              attempts: (same?.attempts ?? 0) + 1,
              runId,
              firstFailedAt: same?.firstFailedAt ?? now,
              lastFailedAt: now,
            }
          }),
          unquarantine: loaded.map((m) => sourceFileOf(m.obj)).filter((key) => quarantine.has(key)),
        },
        signal,
      ),
    )
    summary.batches++
    summary.stagedFiles += files.length
    for (const m of members) {
      summary.bytes += m.bytes
      if (m.outcome === 'changed') summary.objectsChanged++
      if (m.outcome === 'failed') {
        summary.objectsFailed++
        summary.failures.push({ key: m.obj.key, etag: m.obj.etag, code: m.error.code, reason: m.error.message })
      }
      if (m.outcome !== 'staged') continue
      summary.objectsLoaded++
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

/**
 * Streams one object into its batch's staged files and checks that every
 * block was staged as a row or a reject. An object that cannot be read to
 * the end comes back `failed` (or `changed`) instead of throwing, so the
 * others go on; a failure of the batch's own files, of S3 as a whole or a
 * cancel still throws.
 */
async function stageLogObject(opts: IngestLogsOptions & { obj: ObjectInfo; stage: LogBatchStage; signal: AbortSignal }): Promise<StagedObject> {
  const { cfg, store, obj, signal } = opts
  let bytes = 0
  const parser = createBlockParserStream({ sourceFile: sourceFileOf(obj), maxBlockBytes: cfg.MAX_BLOCK_BYTES })
  const sink = opts.stage.objectSink()
  try {
    const source = openLogObject(store, obj, {
      signal,
      onBytes: (n) => {
        bytes += n
        opts.onProgress?.({ type: 'bytes', bytes: n })
      },
    })
    await pipeline([...source, parser, sink], { signal })
  } catch (err) {
    if (signal.aborted || opts.stage.failed) throw err
    const error = objectError(store, obj, err)
    if (!error) throw err
    return { obj, bytes, outcome: error.code === 'ERR_OBJECT_CHANGED' || error.code === 'ERR_OBJECT_GONE' ? 'changed' : 'failed', error }
  }
  const stats = parser.stats
  if (stats.blocks !== stats.rows + stats.rejects || sink.rows !== stats.rows || sink.rejects !== stats.rejects) {
    const error = new PipelineError('ERR_RECONCILE', `${obj.key}: blocks ${stats.blocks} ≠ rows ${stats.rows} + rejects ${stats.rejects}, or staged ${sink.rows}/${sink.rejects}`)
    return { obj, bytes, outcome: 'failed', error }
  }
  return { obj, outcome: 'staged', bytes, blocks: stats.blocks, rows: stats.rows, rejects: stats.rejects }
}

/** Object codes: this object, not S3 or the warehouse, is the problem. */
const OBJECT_CODES = new Set(['ERR_OBJECT_CHANGED', 'ERR_OBJECT_GONE', 'ERR_OBJECT_TRUNCATED', 'ERR_OBJECT_UNREADABLE'])

/**
 * The object's own failure, or undefined when the failure is not the
 * object's (S3 unreachable or refusing us, which every object would meet).
 */
function objectError(store: ObjectStore, obj: ObjectInfo, err: unknown): PipelineError | undefined {
  if (err instanceof PipelineError) return OBJECT_CODES.has(err.code) ? err : undefined
  const e = err as Error & { code?: string; errno?: number }
  // zlib's codes: the gzip stream is truncated or corrupt.
  if (typeof e.code === 'string' && e.code.startsWith('Z_')) {
    return new PipelineError('ERR_OBJECT_CORRUPT', `${store.url}/${obj.key}: ${e.message} (the gzip stream is truncated or corrupt)`, { cause: err })
  }
  // Anything else the parser and encoder threw on this object's bytes.
  return new PipelineError('ERR_OBJECT_UNREADABLE', `${store.url}/${obj.key}: ${e.message}`, { cause: err })
}
