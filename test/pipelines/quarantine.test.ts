import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { ingestLogs } from '../../src/pipelines/ingestLogs.js'
import { uploadLogs } from '../../src/pipelines/uploadLogs.js'
import { DuckDbWarehouse } from '../../src/warehouse/duckdbWarehouse.js'
import { independentS3 } from '../support/independentS3.js'
import { testRuntime } from '../support/runtime.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const CLI = path.join(ROOT, 'dist/src/cli.js')

t.test('a truncated .log.gz is quarantined, a 0-byte object is an empty log, the 30 good ones load; exit 3, then 0, then the fixed upload loads', async (t) => {
  const home = t.testdir()
  const env = { PATH: process.env.PATH, HOME: home, CAREPLUS_HOME: path.join(home, '.careplus'), LOG_LEVEL: 'silent' }
  const careplus = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: home, env, encoding: 'utf8', timeout: 120_000 })
  const gen = await generateLogs({ outDir: path.join(home, 'logs'), days: 30, events: 1500, seed: 4 })
  // Day 31, gzipped, its last bytes cut off: gunzip ends with "unexpected end of file" part-way through.
  const day31 = await generateLogs({ outDir: path.join(home, 'day31'), days: 1, events: 60, seed: 8 })
  const whole = gzipSync(readFileSync(day31.files[0]!))
  writeFileSync(path.join(home, 'logs/careplus-2025-07-31.log.gz'), whole.subarray(0, Math.floor(whole.length * 0.7)))
  writeFileSync(path.join(home, 'logs/empty.log'), '')
  t.equal(careplus(['upload-logs', 'logs']).status, 0)

  const first = careplus(['ingest-logs', '--json'])
  t.equal(first.status, 3, 'exit 3: success with failures')
  const s1 = JSON.parse(first.stdout)
  t.match(s1, { objectsListed: 32, objectsLoaded: 31, objectsFailed: 1, blocks: gen.events, rows: gen.events })
  t.match(s1.failures, [{ key: 'logs/careplus-2025-07-31.log.gz', code: 'ERR_OBJECT_CORRUPT', reason: /unexpected end of file/ }])

  const listed = careplus(['failures', '--format', 'json'])
  t.equal(listed.status, 0, listed.stderr)
  t.match(JSON.parse(listed.stdout).failures, [{ source: 'logs', key: 'logs/careplus-2025-07-31.log.gz', code: 'ERR_OBJECT_CORRUPT', attempts: 1, runId: s1.runId, reason: /truncated or corrupt/ }])
  t.match(careplus(['failures']).stdout, /careplus-2025-07-31\.log\.gz[\s\S]*1 quarantined object/)

  const check = async () => {
    const wh = await DuckDbWarehouse.open({ file: path.join(env.CAREPLUS_HOME, 'warehouse.duckdb'), tmpDir: path.join(home, 'tmp-check') })
    try {
      const n = async (sql: string) => Number(Object.values((await wh.query(sql))[0]!)[0])
      return {
        rows: await n('SELECT count(*) FROM bronze.logs'),
        truncatedRows: await n("SELECT count(*) FROM bronze.logs WHERE _source_file LIKE '%07-31.log.gz'"),
        ledger: await n('SELECT count(*) FROM ops.load_ledger'),
        empty: await n("SELECT count(*) FROM ops.load_ledger WHERE object_key = 'logs/empty.log' AND blocks = 0"),
      }
    } finally {
      await wh.close()
    }
  }
  t.same(await check(), { rows: gen.events, truncatedRows: 0, ledger: 31, empty: 1 }, 'the good objects and the empty one in the ledger; none of the truncated one\'s rows, though it staged some')

  const second = careplus(['ingest-logs', '--json'])
  t.equal(second.status, 0, 'the next run does not fail again on the same ETag')
  t.match(JSON.parse(second.stdout), { objectsLoaded: 0, objectsUnchanged: 31, objectsQuarantined: 1, objectsFailed: 0, failures: [] })
  t.match(careplus(['ingest-logs']).stdout, /skipped +1 quarantined objects/)

  const retried = careplus(['ingest-logs', '--retry-failed', '--json'])
  t.equal(retried.status, 3, '--retry-failed tries it again, and it fails again')
  t.match(JSON.parse(careplus(['failures', '--format', 'json']).stdout).failures, [{ attempts: 2 }], 'the same version counts its attempts')

  // The fixed file, uploaded under the bad object's key.
  writeFileSync(path.join(home, 'logs/careplus-2025-07-31.log.gz'), whole)
  t.equal(careplus(['upload-logs', 'logs/careplus-2025-07-31.log.gz']).status, 0)
  const fixed = careplus(['ingest-logs', '--json'])
  t.equal(fixed.status, 0, fixed.stderr)
  t.match(JSON.parse(fixed.stdout), { objectsLoaded: 1, objectsFailed: 0, rows: day31.events })
  t.same(JSON.parse(careplus(['failures', '--format', 'json']).stdout).failures, [], 'a loaded object leaves the quarantine')
  t.same(await check(), { rows: gen.events + day31.events, truncatedRows: day31.events, ledger: 32, empty: 1 })
})

t.test('past MAX_FAILED_OBJECTS bad objects the run fails: a bucket of bad objects is a configuration problem', async (t) => {
  const rt = await testRuntime(t, { MAX_FAILED_OBJECTS: '2', LOAD_BATCH_MAX_OBJECTS: '100' })
  const dir = path.join(rt.home, 'logs')
  await generateLogs({ outDir: dir, days: 4, events: 200, seed: 1 })
  await uploadLogs({ store: rt.store, prefix: 'logs/', paths: [dir], concurrency: 4 })
  for (const k of ['a', 'b', 'c']) await rt.store.client.send(new PutObjectCommand({ Bucket: rt.store.bucket, Key: `logs/bad-${k}.log.gz`, Body: Buffer.from('not gzip') }))
  await t.rejects(ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse }), { code: 'ERR_TOO_MANY_FAILED_OBJECTS', message: /3 log objects failed in this run, more than MAX_FAILED_OBJECTS=2/ })
  const n = async (sql: string) => Number(Object.values((await rt.warehouse.query(sql))[0]!)[0])
  t.equal(await n('SELECT count(*) FROM ops.load_failures'), 0, 'nothing quarantined: the next run tries them all again')
  t.equal(await n('SELECT count(*) FROM ops.load_ledger'), 0, 'and the batch was not loaded')
})

t.test("a failing object's rows staged before the failure are in the batch's file, and not in bronze", async (t) => {
  const rt = await testRuntime(t)
  const day = await generateLogs({ outDir: path.join(rt.home, 'day'), days: 1, sizeBytes: 400_000, seed: 3 })
  const whole = gzipSync(readFileSync(day.files[0]!))
  await rt.store.client.send(new PutObjectCommand({ Bucket: rt.store.bucket, Key: 'logs/cut.log.gz', Body: whole.subarray(0, Math.floor(whole.length * 0.8)) }))
  await rt.store.client.send(new PutObjectCommand({ Bucket: rt.store.bucket, Key: 'logs/good.log', Body: readFileSync(day.files[0]!) }))
  const s = await ingestLogs({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse })
  t.match(s, { objectsLoaded: 1, objectsFailed: 1, rows: day.events })
  const s3 = independentS3(rt.server.endpoint, rt.store.bucket)
  const [file] = await s3.listKeys(`stage/logs/${s.runId}/`)
  const staged = gunzipSync(await s3.getObject(file!)).toString('utf8')
  const cutRows = staged.split('\n').filter((line) => line.includes(',logs/cut.log.gz,')).length
  t.ok(cutRows > 0, `the truncated object staged ${cutRows} rows before gunzip failed`)
  t.same(await rt.warehouse.query("SELECT count(*) AS n FROM bronze.logs WHERE _source_file = 'logs/cut.log.gz'"), [{ n: 0 }], 'none of them committed')
  t.same(await rt.warehouse.query("SELECT count(*) AS n FROM bronze.logs WHERE _source_file = 'logs/good.log'"), [{ n: day.events }])
})
