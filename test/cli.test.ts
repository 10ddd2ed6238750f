import t from 'tap'
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import path from 'node:path'
import { writeFileSync } from 'node:fs'
import { independentS3 } from './support/independentS3.js'

const ROOT = path.resolve(import.meta.dirname, '..')
const CLI = path.join(ROOT, 'dist/src/cli.js')

function careplus(home: string, args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd: home,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CAREPLUS_HOME: path.join(home, '.careplus'), ...env },
    timeout: 120_000,
  })
}

const BLOCK =
  '2025-07-01 00:21:00 [INF0] careplus.support.GenericService - TicketID=TCK0701000 SessionID=sess_TCK0701000\n' +
  'IP=60.130.155.7 | ResponseTime=-749ms | CPU=27.64% | EventType=generic_event | Error=false\n' +
  'UserAgent="PostmanRuntime/7.32.2"\nMessage=" event, with \\"quotes\\""\nDebug="ℹ️ Logged for monitoring"\nTraceID=None\n---\n'

t.test('generate → upload-logs → ingest-logs → query, and the job entry', async (t) => {
  const home = t.testdir()
  const gen = careplus(home, ['generate', '--out', 'logs', '--days', '3', '--events', '120'])
  t.equal(gen.status, 0, gen.stderr)
  t.match(gen.stdout, /^wrote 3 files, 120 events/)
  const up = careplus(home, ['upload-logs', 'logs'])
  t.equal(up.status, 0, up.stderr)
  t.match(up.stdout, /^uploaded 3 files/)
  const ing = careplus(home, ['ingest-logs', '--json'])
  t.equal(ing.status, 0, ing.stderr)
  t.match(JSON.parse(ing.stdout), { objectsLoaded: 3, blocks: 120, rows: 120, rejects: 0, stagedFiles: 3 })
  t.equal(ing.stderr, '', 'nothing on stderr: no warnings, no progress bar off a terminal')

  const job = spawnSync(process.execPath, [path.join(ROOT, 'jobs/ingest-logs.js')], {
    cwd: home,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, CAREPLUS_HOME: path.join(home, '.careplus') },
  })
  t.equal(job.status, 0, job.stderr)
  t.match(job.stdout, /objects\s+3 listed, 0 loaded, 3 unchanged/, 'node jobs/ingest-logs.js runs one ingest')

  const q = careplus(home, ['query', 'SELECT count(*) AS n, count(DISTINCT _source_file) AS files FROM bronze.logs', '--format', 'json'])
  t.equal(q.status, 0, q.stderr)
  t.same(JSON.parse(q.stdout), [{ n: 120, files: 3 }])
  const csv = careplus(home, ['query', "SELECT 'a,b' AS x, NULL AS y ORDER BY 1", '--format', 'csv'])
  t.equal(csv.stdout, 'x,y\n"a,b",\n')
  const table = careplus(home, ['query', 'SELECT 42 AS answer'])
  t.match(table.stdout, /answer[\s\S]*42[\s\S]*\(1 row\)/)
  const bad = careplus(home, ['query', 'SELECT nope FROM nowhere'])
  t.equal(bad.status, 1)
  t.match(bad.stderr, /^careplus: .*nowhere.*\n$/)
})

t.test('parse: CSV to stdout, rejects as JSON lines on stderr', async (t) => {
  const home = t.testdir({ 'one.log': BLOCK + 'garbage line\n---\n' + BLOCK })
  const r = careplus(home, ['parse', 'one.log'])
  t.equal(r.status, 0, r.stderr)
  const lines = r.stdout.trimEnd().split('\n')
  t.equal(lines[0], 'timestamp,log_level,service,ticket_id,session_id,ip,response_time_ms,cpu_percent,event_type,error,user_agent,message,debug,trace_id,_source_file,_source_line')
  t.equal(lines.length, 3)
  t.match(lines[1], /^2025-07-01 00:21:00,INF0,careplus.support.GenericService,TCK0701000,sess_TCK0701000,60.130.155.7,-749,27.64,generic_event,false,/)
  const rejects = r.stderr.trim().split('\n').map((l) => JSON.parse(l))
  t.match(rejects, [{ _source_file: 'one.log', _source_line: 8, reason: /^too_few_lines/, raw: 'garbage line' }])

  const jsonl = careplus(home, ['parse', 'one.log', '--format', 'jsonl'])
  const recs = jsonl.stdout.trim().split('\n').map((l) => JSON.parse(l))
  t.equal(recs.length, 2)
  t.match(recs[0], { response_time_ms: -749, cpu_percent: 27.64, message: ' event, with \\"quotes\\"', _source_line: 1 })
  t.equal(recs[1]._source_line, 10)

  const missing = careplus(home, ['parse', 'nope.log'])
  t.equal(missing.status, 1)
  t.equal(missing.stderr, 'careplus: no such file: nope.log\n')
})

t.test('configuration and connection errors: one line, non-zero, no secrets', async (t) => {
  const home = t.testdir()
  const r = careplus(home, ['ingest-logs'], { INGEST_CONCURRENCY: 'lots' })
  t.equal(r.status, 1)
  t.match(r.stderr, /^careplus: invalid setting INGEST_CONCURRENCY: .*\n$/)
  writeFileSync(path.join(home, '.env'), 'WAREHOUSE=oracle\n')
  const e = careplus(home, ['ingest-logs'])
  t.equal(e.status, 1)
  t.match(e.stderr, /^careplus: invalid setting WAREHOUSE: /)

  const unreachable = careplus(t.testdir(), ['ingest-logs'], {
    S3_BUCKET: 'careplus',
    S3_ENDPOINT: 'http://127.0.0.1:9',
    AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'very-secret-value',
  })
  t.equal(unreachable.status, 1)
  t.match(unreachable.stderr, /^careplus: cannot list s3:\/\/careplus\/logs\/: connection refused\n$/)
  t.notMatch(unreachable.stderr, /very-secret-value/)
})

async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const port = (srv.address() as { port: number }).port
  srv.close()
  await once(srv, 'close')
  return port
}

t.test('s3 serve: a foreground server other S3 clients can use, stopped by SIGINT', async (t) => {
  const home = t.testdir({ 'a.log': BLOCK })
  const port = await freePort()
  const child = spawn(process.execPath, [CLI, 's3', 'serve', '--port', String(port)], {
    cwd: home,
    env: { PATH: process.env.PATH, CAREPLUS_HOME: path.join(home, '.careplus') },
  })
  const [first] = (await once(child.stdout.setEncoding('utf8'), 'data')) as [string]
  t.match(first, new RegExp(`embedded S3 listening on http://127.0.0.1:${port}, bucket careplus`))
  const env = { S3_BUCKET: 'careplus', S3_ENDPOINT: `http://127.0.0.1:${port}`, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' }
  const up = careplus(home, ['upload-logs', 'a.log'], env)
  t.equal(up.status, 0, up.stderr)
  t.same(await independentS3(`http://127.0.0.1:${port}`, 'careplus').listKeys('logs/'), ['logs/a.log'], 'another S3 client sees the uploaded object')
  child.kill('SIGINT')
  const [code] = (await once(child, 'exit')) as [number]
  t.equal(code, 0)
})
