/**
 * The many-small-objects cases (`load-5000-objects`, `load-1-object`): the
 * first ~10 MB of the suite's input, cut at block boundaries into 5,000
 * objects of ~2 KB (a bucket written by Fluent Bit or Vector every few
 * minutes per host), or kept as one object of the same bytes, uploaded to the
 * embedded S3 server beforehand and ingested into DuckDB as `careplus
 * ingest-logs` does. The ratio of the two times is the per-object cost of
 * the whole path: listing, one GET each, and their share of a load batch.
 * `get-5000-objects` is the floor under it: the same listing and GETs
 * through the same S3 client, the bodies read and dropped, nothing else.
 */
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { loadConfig, type Config } from '../src/config.js'
import { forEachConcurrent } from '../src/pipelines/concurrency.js'
import { ingestLogs } from '../src/pipelines/ingestLogs.js'
import { readObject } from '../src/s3/objectReader.js'
import { listObjects } from '../src/s3/objectStore.js'
import { withRuntime } from '../src/runtime.js'
import { stopwatch, type BenchCase, type CaseContext } from './harness.js'

export const SMALL_OBJECTS = 5000
export const SMALL_OBJECT_BYTES = 2048
const SEPARATOR = '\n---\n'
const MANIFEST = 'objects.json'

/** Defaults only, in the run's work folder: the embedded S3 server and a fresh DuckDB file. */
function benchConfig(workDir: string): Config {
  return loadConfig({ CAREPLUS_HOME: workDir, LOG_LEVEL: 'silent' }, workDir)
}

/** The input's first SMALL_OBJECTS × ~2 KB, as whole blocks: as one object (`objects` = 1), or one object a ~2 KB piece. */
export async function slices(file: string, objects: 1 | typeof SMALL_OBJECTS): Promise<{ bodies: Buffer[]; bytes: number; events: number }> {
  const text = (await readFile(file)).subarray(0, SMALL_OBJECTS * SMALL_OBJECT_BYTES * 2).toString('utf8')
  // 5,000 pieces, or as many as a small input holds (the suite's own test runs it on 200 KB).
  const wanted = Math.min(SMALL_OBJECTS, Math.floor(text.length / (2 * SMALL_OBJECT_BYTES)))
  if (wanted === 0) throw new Error(`the bench input is too small for objects of ${SMALL_OBJECT_BYTES} bytes`)
  const pieces: string[] = []
  let start = 0
  while (pieces.length < wanted) {
    const end = text.indexOf(SEPARATOR, start + SMALL_OBJECT_BYTES - SEPARATOR.length)
    if (end < 0) break
    pieces.push(text.slice(start, end + SEPARATOR.length))
    start = end + SEPARATOR.length
  }
  const all = pieces.join('')
  const events = all.split(SEPARATOR).length - 1
  const bodies = objects === 1 ? [Buffer.from(all)] : pieces.map((p) => Buffer.from(p))
  return { bodies, bytes: Buffer.byteLength(all), events }
}

export function smallObjectsCase(objects: 1 | typeof SMALL_OBJECTS, what: 'ingest' | 'get' = 'ingest'): BenchCase {
  return {
    async prepare({ input, workDir }: CaseContext) {
      const { bodies, bytes, events } = await slices(input.file, objects)
      const cfg = benchConfig(workDir)
      await withRuntime(
        cfg,
        async ({ store }) => {
          let next = 0
          await Promise.all(
            Array.from({ length: 16 }, async () => {
              while (next < bodies.length) {
                const i = next++
                const key = `${cfg.S3_LOGS_PREFIX}host-${i % 20}/${String(i).padStart(5, '0')}.log`
                await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: bodies[i] }))
              }
            }),
          )
        },
        { warehouse: false },
      )
      await writeFile(path.join(workDir, MANIFEST), JSON.stringify({ objects: bodies.length, bytes, events }))
    },

    async run({ workDir }: CaseContext) {
      const expected = JSON.parse(await readFile(path.join(workDir, MANIFEST), 'utf8')) as { objects: number; bytes: number; events: number }
      const cfg = benchConfig(workDir)
      if (what === 'get') {
        return withRuntime(
          cfg,
          async ({ store }) => {
            const elapsed = stopwatch()
            const listed = []
            for await (const o of listObjects(store, cfg.S3_LOGS_PREFIX)) listed.push(o)
            let bytes = 0
            await forEachConcurrent(listed, cfg.INGEST_CONCURRENCY, async (o, signal) => {
              for await (const chunk of readObject(store, o, { signal })) bytes += (chunk as Buffer).length
            })
            const seconds = elapsed()
            if (listed.length !== expected.objects || bytes !== expected.bytes) throw new Error(`got ${listed.length} objects, ${bytes} bytes; expected ${JSON.stringify(expected)}`)
            // The GETs see bytes, not blocks: the events are the input's, for the table's events/s.
            return { bytes, events: expected.events, seconds, expected: { bytes: expected.bytes, events: expected.events } }
          },
          { warehouse: false },
        )
      }
      return withRuntime(cfg, async ({ store, warehouse }) => {
        const elapsed = stopwatch()
        const s = await ingestLogs({ cfg, store, warehouse })
        const seconds = elapsed()
        const [loaded] = await warehouse.query('SELECT (SELECT count(*) FROM bronze.logs) + (SELECT count(*) FROM bronze.log_rejects) AS n')
        if (s.objectsLoaded !== expected.objects || s.bytes !== expected.bytes || s.blocks !== expected.events || Number(loaded?.n) !== expected.events) {
          throw new Error(`${objects} objects: loaded ${s.objectsLoaded} objects, ${s.bytes} bytes, ${s.blocks} blocks (${String(loaded?.n)} in bronze); expected ${JSON.stringify(expected)}`)
        }
        return { bytes: s.bytes, events: s.blocks, seconds, expected: { bytes: expected.bytes, events: expected.events }, batches: s.batches }
      })
    },
  }
}
