import { Transform, type Duplex, type Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { readObject, type ReadOptions } from '../s3/objectReader.js'
import type { ObjectInfo, ObjectStore } from '../s3/objectStore.js'

/**
 * The log source: the objects under S3_LOGS_PREFIX, each a `.log` (or a
 * gzipped `.log.gz`) file of six-line blocks.
 */
export const LOGS_SOURCE = 'logs'

/** Object names the log ingest reads; anything else under the prefix is counted as ignored. */
const LOG_OBJECT = /\.log(\.gz)?$/

export function isLogObject(key: string): boolean {
  return LOG_OBJECT.test(key)
}

/**
 * The `_source_file` of an object's rows and rejects, which is also its key
 * in the ledger and what a changed object's old rows are found by: the
 * object key, decided here once.
 */
export function sourceFileOf(obj: Pick<ObjectInfo, 'key'>): string {
  return obj.key
}

/**
 * The first streams of an object's chain: its body (the listed version,
 * resumed through faults: src/s3/objectReader.ts), a byte counter, and
 * gunzip for `.log.gz`. The parser and the sink follow (one `pipeline` joins
 * them all). An empty object is an empty log, whatever its name says.
 */
export function openLogObject(store: ObjectStore, obj: ObjectInfo, opts: ReadOptions & { onBytes?: (n: number) => void }): [Readable, ...Duplex[]] {
  const body = readObject(store, obj, opts)
  const onBytes = opts.onBytes
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes?.(chunk.length)
      cb(null, chunk)
    },
  })
  return obj.key.endsWith('.gz') && obj.size > 0 ? [body, counter, createGunzip()] : [body, counter]
}
