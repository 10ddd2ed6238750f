import t from 'tap'
import path from 'node:path'
import { writeFileSync } from 'node:fs'
import { DEFAULTS, loadConfig, maxBlockBytesSetting } from '../src/config.js'

t.test('no configuration: embedded defaults', async (t) => {
  const dir = t.testdir()
  const cfg = loadConfig({}, dir)
  t.equal(cfg.embeddedS3, true)
  t.equal(cfg.WAREHOUSE, 'duckdb')
  t.equal(cfg.home, path.join(dir, '.careplus'))
  t.equal(cfg.S3_LOGS_PREFIX, 'logs/')
  t.equal(cfg.S3_STAGE_PREFIX, 'stage/')
  t.equal(cfg.INGEST_CONCURRENCY, DEFAULTS.INGEST_CONCURRENCY)
})

t.test('S3_BUCKET switches to real S3; numbers are coerced', async (t) => {
  const cfg = loadConfig({ S3_BUCKET: 'acme-logs', S3_ENDPOINT: 'http://127.0.0.1:9000', INGEST_CONCURRENCY: '8' }, t.testdir())
  t.equal(cfg.embeddedS3, false)
  t.equal(cfg.S3_BUCKET, 'acme-logs')
  t.equal(cfg.INGEST_CONCURRENCY, 8)
})

t.test('.env is read, the environment wins', async (t) => {
  const dir = t.testdir({ '.env': 'S3_LOGS_PREFIX=raw/\nINGEST_CONCURRENCY=2\n' })
  const cfg = loadConfig({ INGEST_CONCURRENCY: '3' }, dir)
  t.equal(cfg.S3_LOGS_PREFIX, 'raw/')
  t.equal(cfg.INGEST_CONCURRENCY, 3)
})

t.test('a malformed setting stops with one line naming the variable', async (t) => {
  const dir = t.testdir()
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ INGEST_CONCURRENCY: 'many' }, /^invalid setting INGEST_CONCURRENCY: .*\(got "many"\)$/],
    [{ WAREHOUSE: 'oracle' }, /^invalid setting WAREHOUSE: /],
    [{ S3_BUCKET: 'Bad_Bucket' }, /^invalid setting S3_BUCKET: expected an S3 bucket name/],
    [{ S3_ENDPOINT: 'localhost:9000' }, /^invalid setting S3_ENDPOINT: /],
    [{ S3_LOGS_PREFIX: 'logs' }, /^invalid setting S3_LOGS_PREFIX: expected a key prefix/],
  ]
  for (const [env, re] of cases) {
    const err = (() => {
      try {
        loadConfig(env, dir)
      } catch (e) {
        return e as Error & { code: string }
      }
    })()
    t.ok(err, `rejects ${JSON.stringify(env)}`)
    t.equal(err?.code, 'ERR_CONFIG')
    t.match(err?.message, re)
    t.notOk(err?.message.includes('\n'), 'one line')
  }
})

t.test('.env secrets never appear in errors', async (t) => {
  const dir = t.testdir()
  writeFileSync(path.join(dir, '.env'), 'MYSQL_PASSWORD=hunter2\nINGEST_CONCURRENCY=0\n')
  t.throws(() => loadConfig({}, dir), { code: 'ERR_CONFIG' })
  try {
    loadConfig({}, dir)
  } catch (e) {
    t.notMatch((e as Error).message, /hunter2/)
  }
})

t.test('TICKETS_LOOKBACK is a duration, MYSQL_READ_TIMEOUT_MS milliseconds', async (t) => {
  const dir = t.testdir()
  const cfg = loadConfig({}, dir)
  t.equal(cfg.TICKETS_LOOKBACK, 2 * 86_400_000, 'default 2d')
  t.equal(cfg.MYSQL_READ_TIMEOUT_MS, 60_000)
  for (const [v, ms] of [['36h', 36 * 3_600_000], ['90m', 5_400_000], ['30s', 30_000], [' 3d ', 3 * 86_400_000], ['0', 0], ['0d', 0]] as const) {
    t.equal(loadConfig({ TICKETS_LOOKBACK: v }, dir).TICKETS_LOOKBACK, ms, v)
  }
  t.equal(loadConfig({ ...(cfg as unknown as Record<string, string>), CAREPLUS_HOME: dir }, dir).TICKETS_LOOKBACK, cfg.TICKETS_LOOKBACK, 'a parsed config given back keeps its value')
  for (const v of ['2 days', '-1d', '1.5h', '36', '3651d', 'P2D']) {
    t.throws(() => loadConfig({ TICKETS_LOOKBACK: v }, dir), { code: 'ERR_CONFIG', message: /^invalid setting TICKETS_LOOKBACK: expected a duration such as 2d, 36h, 90m, 30s or 0/ }, v)
  }
  t.equal(loadConfig({ MYSQL_READ_TIMEOUT_MS: '2500' }, dir).MYSQL_READ_TIMEOUT_MS, 2500)
  t.throws(() => loadConfig({ MYSQL_READ_TIMEOUT_MS: '5' }, dir), { code: 'ERR_CONFIG', message: /^invalid setting MYSQL_READ_TIMEOUT_MS/ })
})

t.test('maxBlockBytesSetting: MAX_BLOCK_BYTES alone, with the bounds and the sources loadConfig uses', async (t) => {
  const root = t.testdir({ env: { '.env': 'MAX_BLOCK_BYTES=4096\n' }, plain: {} })
  const dir = path.join(root, 'env')
  t.equal(maxBlockBytesSetting({}, path.join(root, 'plain')), DEFAULTS.MAX_BLOCK_BYTES, 'the default')
  t.equal(maxBlockBytesSetting({}, dir), 4096, 'from .env')
  t.equal(maxBlockBytesSetting({ MAX_BLOCK_BYTES: '2048' }, dir), 2048, 'the environment wins')
  t.equal(maxBlockBytesSetting({ MAX_BLOCK_BYTES: '2048' }, dir), loadConfig({ MAX_BLOCK_BYTES: '2048' }, dir).MAX_BLOCK_BYTES, 'as loadConfig reads it')
  for (const bad of ['12', '1.5', 'lots', String(512 * 1024 * 1024)]) {
    t.throws(() => maxBlockBytesSetting({ MAX_BLOCK_BYTES: bad }, dir), { code: 'ERR_CONFIG', message: `invalid setting MAX_BLOCK_BYTES: expected an integer from 1024 to 268435456 (got "${bad}")` }, bad)
    t.throws(() => loadConfig({ MAX_BLOCK_BYTES: bad }, dir), { code: 'ERR_CONFIG', message: /^invalid setting MAX_BLOCK_BYTES: / }, `loadConfig refuses ${bad} too`)
  }
})
