import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { gzipSync } from 'node:zlib'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { EMBEDDED_CREDENTIALS, startEmbeddedS3 } from '../../src/s3/embeddedS3.js'
import { storeFor } from '../../src/s3/objectStore.js'
import { DuckDbWarehouse } from '../../src/warehouse/duckdbWarehouse.js'
import { independentS3 } from '../support/independentS3.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const CLI = path.join(ROOT, 'dist/src/cli.js')

t.test('kill -9 in the middle of batched ingests, again and again: the rerun loads every block exactly once', async (t) => {
  const home = t.testdir()
  const env = {
    PATH: process.env.PATH,
    CAREPLUS_HOME: path.join(home, '.careplus'),
    // Many small batches, so a kill lands inside one (its objects staged, or its transaction open) most of the time.
    LOAD_BATCH_MAX_OBJECTS: '15',
    INGEST_CONCURRENCY: '4',
    LOG_LEVEL: 'debug',
  }
  const gen = await generateLogs({ outDir: path.join(home, 'logs'), days: 150, events: 3000, seed: 9 })
  const up = spawnSync(process.execPath, [CLI, 'upload-logs', 'logs'], { cwd: home, env, encoding: 'utf8' })
  t.equal(up.status, 0, up.stderr)

  let kills = 0
  let midway = 0
  for (let trial = 0; trial < 12 && kills < 5; trial++) {
    const child = spawn(process.execPath, [CLI, 'ingest-logs', '--json'], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = once(child, 'exit')
    let stderr = ''
    // After the first committed object of this run (its batch's "object loaded"), kill at a random moment.
    const firstCommit = new Promise<boolean>((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d
        if (/object loaded/.test(stderr)) resolve(true)
      })
      void exited.then(() => resolve(false))
    })
    if (await firstCommit) {
      await sleep(Math.floor(Math.random() * 400))
      child.kill('SIGKILL')
    }
    const [code, sig] = await exited
    if (sig === 'SIGKILL') kills++
    else {
      t.equal(code, 0, `a run that was not killed succeeds: ${stderr.slice(-500)}`)
      break
    }
    const wh = await DuckDbWarehouse.open({ file: path.join(env.CAREPLUS_HOME, 'warehouse.duckdb'), tmpDir: path.join(home, 'tmp-check') })
    const [l] = await wh.query('SELECT count(*) AS n FROM ops.load_ledger')
    const [orphans] = await wh.query('SELECT count(*) AS n FROM bronze.logs WHERE _source_file NOT IN (SELECT object_key FROM ops.load_ledger)')
    await wh.close()
    t.equal(Number(orphans!.n), 0, `after kill ${kills}: no bronze row without its ledger row (${Number(l!.n)} objects committed)`)
    if (Number(l!.n) < 150) midway++
  }
  t.ok(kills >= 1, `killed ${kills} runs`)
  t.ok(midway >= 1, 'at least one kill landed before the last batch')

  // A kill between a batch's upload and its commit leaves staged files, a kill during a COPY a local copy folder.
  // The kills above land mostly while objects stream (a staged file appears on S3 only once it is whole), so one
  // of each is planted too, as such a kill would leave them.
  const stageKeys = async (plant?: string) => {
    const server = await startEmbeddedS3({ dir: path.join(env.CAREPLUS_HOME, 's3') })
    try {
      const store = storeFor({ endpoint: server.endpoint, bucket: server.bucket, region: 'us-east-1', credentials: EMBEDDED_CREDENTIALS })
      if (plant) await store.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: plant, Body: gzipSync('timestamp\n') }))
      store.client.destroy()
      return await independentS3(server.endpoint, server.bucket).listKeys('stage/')
    } finally {
      await server.stop()
    }
  }
  const committedKeys = async (wh: DuckDbWarehouse) =>
    new Set((await wh.query('SELECT DISTINCT staged_files FROM ops.load_ledger')).flatMap((r) => JSON.parse(String(r.staged_files)) as string[]))
  const planted = 'stage/logs/20261203T000000Z-dead01/batch-00002/rows/part-00000.csv.gz'
  {
    const wh = await DuckDbWarehouse.open({ file: path.join(env.CAREPLUS_HOME, 'warehouse.duckdb'), tmpDir: path.join(home, 'tmp-check') })
    const committed = await committedKeys(wh)
    await wh.close()
    const uncommitted = (await stageKeys(planted)).filter((k) => !committed.has(k))
    t.ok(uncommitted.includes(planted), `${uncommitted.length} uncommitted staged files before the last run`)
  }
  mkdirSync(path.join(env.CAREPLUS_HOME, 'tmp', 'copy-LEFTXX'), { recursive: true })
  writeFileSync(path.join(env.CAREPLUS_HOME, 'tmp', 'copy-LEFTXX', '0.csv.gz'), Buffer.alloc(1024))

  const final = spawnSync(process.execPath, [CLI, 'ingest-logs', '--json'], { cwd: home, env: { ...env, LOG_LEVEL: 'silent' }, encoding: 'utf8' })
  t.equal(final.status, 0, final.stderr)
  const wh = await DuckDbWarehouse.open({ file: path.join(env.CAREPLUS_HOME, 'warehouse.duckdb'), tmpDir: path.join(home, 'tmp-check') })
  t.teardown(() => wh.close())
  const n = async (sql: string) => Number(Object.values((await wh.query(sql))[0]!)[0])
  t.equal(await n('SELECT count(*) FROM ops.load_ledger'), 150, 'one ledger row per object')
  t.equal(await n('SELECT count(*) FROM bronze.logs'), gen.events, 'every generated event once')
  t.equal(await n('SELECT count(*) FROM (SELECT DISTINCT _source_file, _source_line FROM bronze.logs)'), gen.events, 'no duplicate (_source_file, _source_line)')
  t.equal(await n('SELECT sum(rows_loaded) FROM ops.load_ledger'), gen.events, 'the ledger counts the same rows')
  t.match(JSON.parse(final.stdout), { leftoversRemoved: Number })
  t.ok(JSON.parse(final.stdout).leftoversRemoved >= 1, 'the run removed the leftovers first')
  t.same(readdirSync(path.join(env.CAREPLUS_HOME, 'tmp')).filter((f) => f.startsWith('copy-')), [], 'no tmp/copy-* left')
  const committed = await committedKeys(wh)
  t.same(await stageKeys(), [...committed].sort(), 'the stage holds exactly the committed loads\' files')
})
