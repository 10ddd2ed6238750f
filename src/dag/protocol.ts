/**
 * The messages between the DAG (the main thread) and its tasks' worker
 * threads, in one place: what a worker is given, how it reports its end,
 * and how its warehouse calls reach the one warehouse connection of the
 * process, and are cancelled.
 */
import type { ErrorCode } from '../errors.js'
import type { QueryTag } from '../warehouse/queryTag.js'
import type { CopySpec } from '../warehouse/warehouse.js'

/** What the daemon hands each job's worker (Bree's workerData). */
export interface JobWorkerData {
  careplus?: {
    /** The daemon's settings, so a worker sees exactly the configuration its daemon validated. */
    env: Record<string, string | undefined>
    /** The daemon's S3 endpoint (its embedded server, when no bucket is configured). */
    s3: { endpoint?: string; bucket: string; embedded: boolean }
  }
  /** The DAG run this attempt belongs to: the task's own run id, so its ledger rows and staged files carry it. */
  runId?: string
  /** Per-job arguments from the DAG, e.g. `{ layers: ['silver'] }`. */
  args?: Record<string, unknown>
}

/** How one attempt of a task ended. */
export type TaskResult =
  | { ok: true; result: Record<string, unknown> }
  | {
      ok: false
      /** Stopped by a cancel (the run's, or a timeout's): not a failure of the work. */
      cancelled: boolean
      /** The PipelineError's code; undefined for an error without one (a bug). */
      code?: ErrorCode
      /** Whether another attempt may succeed (errors.ts isTransient, decided where the error happened). */
      transient: boolean
      message: string
    }

/** A worker's report of its end, posted before Bree's 'done'. */
export type JobMessage = { type: 'task-result'; job: string; runId?: string; result: TaskResult }

export function isJobMessage(m: unknown): m is JobMessage {
  return typeof m === 'object' && m !== null && (m as { type?: string }).type === 'task-result'
}

/** A warehouse call from a worker, executed by the main thread's WarehouseHost. */
export type WarehouseRequest = {
  type: 'warehouse'
  id: number
  op: 'migrate' | 'run' | 'query' | 'begin' | 'commit' | 'rollback' | 'copyFromStage'
  tx?: number
  sql?: string
  params?: readonly unknown[]
  spec?: CopySpec
  /** The caller's query tag (its run), for the owner to issue the statement under. */
  tag?: QueryTag
}

/** The worker's signal aborted while request `id` was in flight: the host aborts that statement. */
export type WarehouseCancel = { type: 'warehouse-cancel'; id: number }

export type WarehouseReply = {
  type: 'warehouse-reply'
  id: number
  result?: unknown
  error?: { message: string; code?: string; transient: boolean; cancelled?: boolean }
}

export function isWarehouseRequest(m: unknown): m is WarehouseRequest {
  return typeof m === 'object' && m !== null && (m as { type?: string }).type === 'warehouse'
}

export function isWarehouseCancel(m: unknown): m is WarehouseCancel {
  return typeof m === 'object' && m !== null && (m as { type?: string }).type === 'warehouse-cancel'
}
