import t from 'tap'
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { freePort } from './support/daemonProcess.js'
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
  // The three small objects share one load batch, so one staged file (no rejects: no rejects file).
  t.match(JSON.parse(ing.stdout), { objectsLoaded: 3, blocks: 120, rows: 120, rejects: 0, stagedFiles: 1, batches: 1 })
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
  t.equal(bad.stdout, '', 'without JSON output asked for, nothing on stdout')
})

t.test('--version prints the package version', async (t) => {
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
  for (const flag of ['--version', '-V']) {
    const r = careplus(t.testdir(), [flag])
    t.equal(r.status, 0, r.stderr)
    t.equal(r.stdout, `${version}\n`, flag)
  }
})

t.test('query: one table for a result of many chunks; csv and json whole', async (t) => {
  const home = t.testdir()
  const tables = (out: string) => out.split('\n').filter((l) => l.startsWith('┌')).length
  const dataRows = (out: string) => out.split('\n').filter((l) => /^│ *\d/.test(l)).length
  // DuckDB yields a result in chunks of up to 2,048 rows, and a parallel GROUP BY in several small ones.
  const many = careplus(home, ['query', 'SELECT i FROM range(5000) t(i)'])
  t.equal(many.status, 0, many.stderr)
  t.equal(tables(many.stdout), 1, 'one table for 5,000 rows (three chunks)')
  t.equal(dataRows(many.stdout), 5000)
  t.match(many.stdout, /└[─┴]+┘\n\(5,000 rows\)\n$/)
  const grouped = careplus(home, ['query', 'SELECT i % 3 AS k, count(*) AS n FROM range(1000000) t(i) GROUP BY 1'])
  t.equal(grouped.status, 0, grouped.stderr)
  t.equal(tables(grouped.stdout), 1, 'one table for a GROUP BY whose 3 rows come in more than one chunk')
  t.equal(dataRows(grouped.stdout), 3)
  t.match(grouped.stdout, /\(3 rows\)\n$/)

  const capped = careplus(home, ['query', 'SELECT i FROM range(10005) t(i)'])
  t.equal(capped.status, 0, capped.stderr)
  t.equal(tables(capped.stdout), 1)
  t.equal(dataRows(capped.stdout), 10_000, 'a table shows at most 10,000 rows')
  t.match(capped.stdout, /\(10,005 rows; the first 10,000 shown: use --format csv or json for all of them\)\n$/)

  const csv = careplus(home, ['query', 'SELECT i FROM range(5000) t(i)', '--format', 'csv'])
  t.equal(csv.stdout, 'i\n' + Array.from({ length: 5000 }, (_, i) => `${i}\n`).join(''), 'one header, every row')
  const json = careplus(home, ['query', 'SELECT i FROM range(5000) t(i)', '--format', 'json'])
  t.same(JSON.parse(json.stdout), Array.from({ length: 5000 }, (_, i) => ({ i })), 'one JSON array over every chunk')
  t.equal(json.stdout.split('\n').length, 5003, 'one row object per line between [ and ]')
})

t.test('a failing command asked for JSON also prints {"error":{code,message}} on stdout', async (t) => {
  const home = t.testdir()
  const jsonError = (r: SpawnSyncReturns<string>, code: string | RegExp) => {
    t.equal(r.status, 1)
    const line = r.stderr.split('\n')[0]!
    t.match(line, /^(careplus: |error: )/, 'the one-line message is still on stderr')
    t.match(JSON.parse(r.stdout), { error: { code, message: line.replace(/^(careplus: |error: )/, '') } }, r.stdout)
    t.equal(r.stdout.split('\n').length, 2, 'one JSON line')
  }
  const unreachable = { S3_BUCKET: 'careplus', S3_ENDPOINT: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'very-secret-value' }
  const logs = careplus(home, ['ingest-logs', '--json'], unreachable)
  jsonError(logs, /^ERR_/)
  t.match(JSON.parse(logs.stdout).error.message, /^cannot list s3:\/\/careplus\/logs\/: connection refused$/)
  t.notMatch(logs.stdout, /very-secret-value/)
  jsonError(careplus(home, ['ingest-tickets', '--json'], { MYSQL_PORT: '1' }), 'ERR_MYSQL')
  jsonError(careplus(home, ['status', '--format', 'json'], { INGEST_CONCURRENCY: 'lots' }), 'ERR_CONFIG')
  jsonError(careplus(home, ['query', 'SELECT nope FROM nowhere', '--format=json']), 'ERR_QUERY')
  const usage = careplus(home, ['ingest-logs', '--json', '--bogus'])
  jsonError(usage, 'ERR_USAGE')
  t.equal(JSON.parse(usage.stdout).error.message, "unknown option '--bogus'")
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

t.test('parse: a folder or a broken .gz says what is wrong, naming the file', async (t) => {
  const home = t.testdir({
    logs: { 'a.log': BLOCK },
    // The first 400 bytes of sample.log.gz: a gzip stream cut short.
    'broken.log.gz': readFileSync(path.join(ROOT, 'test/fixtures/logs/truncated.log.gz')),
    'plain.log.gz': BLOCK,
  })
  const dir = careplus(home, ['parse', 'logs'])
  t.equal(dir.status, 1)
  t.equal(dir.stderr, 'careplus: logs is a directory: parse reads one .log or .log.gz file (to load a folder: careplus upload-logs <dir>, then careplus ingest-logs)\n')
  const broken = careplus(home, ['parse', 'broken.log.gz'])
  t.equal(broken.status, 1)
  t.equal(broken.stderr, 'careplus: broken.log.gz: unexpected end of file (the gzip stream is truncated or corrupt)\n')
  const plain = careplus(home, ['parse', 'plain.log.gz'])
  t.equal(plain.status, 1)
  t.equal(plain.stderr, 'careplus: plain.log.gz: incorrect header check (not gzip data, or corrupt gzip data)\n')
})

t.test('generate --size: nothing to generate is refused, and nothing written', async (t) => {
  const home = t.testdir()
  for (const [size, message] of [
    ['0', 'careplus: Invalid size "0": must be at least 1 byte\n'],
    ['-1MB', 'careplus: Invalid size "-1MB": a size cannot be negative\n'],
    ['100', /^careplus: Invalid size: 100 bytes is less than one log block \(about \d+ bytes\); give at least \d+ bytes\n$/],
  ] as const) {
    const r = careplus(home, ['generate', '--out', 'logs', '--size', size])
    t.equal(r.status, 1, `--size ${size}`)
    t.match(r.stderr, message)
    t.equal(r.stdout, '')
  }
  t.notOk(existsSync(path.join(home, 'logs')), 'no folder, no empty files')
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

t.test('s3 serve: the printed settings work as pasted; stopped by SIGINT', async (t) => {
  const home = t.testdir({ 'a.log': BLOCK, client: {} })
  const port = await freePort()
  const child = spawn(process.execPath, [CLI, 's3', 'serve', '--port', String(port)], {
    cwd: home,
    env: { PATH: process.env.PATH, CAREPLUS_HOME: path.join(home, '.careplus') },
  })
  t.teardown(() => void child.kill('SIGKILL'))
  // Read on to the banner's last line (it may come in several chunks); the pipe stays open.
  const banner = await new Promise<string>((resolve, reject) => {
    let text = ''
    child.once('exit', (code) => reject(new Error(`s3 serve exited (${code}) before its banner: ${text}`)))
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      text += d
      if (text.includes('Ctrl-C stops it.\n')) resolve(text)
    })
  })
  t.match(banner, new RegExp(`^embedded S3 listening on http://127.0.0.1:${port}, bucket careplus`))
  for (const line of banner.split('\n').filter((l) => /\baws\b/.test(l))) t.match(line, /if you have it/, 'the AWS CLI only as an option')

  // Exactly the printed line, as a shell would take it: nothing else set (HOME is empty, so no ~/.aws either).
  const exported = /^\s*export (.+)$/m.exec(banner)
  t.ok(exported, 'a line to paste')
  const settings = Object.fromEntries(exported![1]!.split(' ').map((kv) => kv.split('=', 2) as [string, string]))
  t.same(Object.keys(settings).sort(), ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'S3_BUCKET', 'S3_ENDPOINT'])
  const env = { ...settings, HOME: path.join(home, 'client'), CAREPLUS_HOME: path.join(home, 'client', '.careplus') }
  const up = careplus(home, ['upload-logs', 'a.log'], env)
  t.equal(up.status, 0, up.stderr)
  const ing = careplus(home, ['ingest-logs', '--json'], env)
  t.equal(ing.status, 0, ing.stderr)
  t.match(JSON.parse(ing.stdout), { objectsLoaded: 1, rows: 1, rejects: 0, stagedFiles: 1 })

  const other = independentS3(settings.S3_ENDPOINT!, settings.S3_BUCKET!)
  t.same(await other.listKeys('logs/'), ['logs/a.log'], 'another S3 client sees the uploaded object')
  t.equal((await other.listKeys('stage/logs/')).length, 1, 'and the staged file')
  child.kill('SIGINT')
  const [code] = (await once(child, 'exit')) as [number]
  t.equal(code, 0)
})
