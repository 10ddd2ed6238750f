import t from 'tap'
import path from 'node:path'
import { request } from 'node:http'
import { connect } from 'node:net'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { seedTickets } from '../../src/sources/ticketSeeder.js'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { MYSQL, mysqlEnv, testDatabase } from '../support/mysql.js'
import { cli, freePort, startDaemon, statusOf, token, until } from '../support/daemonProcess.js'

/** A small seeded generator: the same requests every run, so a failure can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = s
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

interface Answer {
  status: number
  body: string
}

function send(port: number, method: string, p: string, headers: Record<string, string>, body: string | Buffer | undefined): Promise<Answer> {
  // Framed, whatever the method: Node's client sends a DELETE's or OPTIONS' body unframed, which is then not HTTP
  // (the raw cases below send such bytes on purpose).
  if (body !== undefined && headers['transfer-encoding'] === undefined) headers['content-length'] = String(Buffer.byteLength(body))
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: p, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d: string) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode!, body: text }))
      res.on('error', reject)
    })
    // A socket error is an answer too (the daemon closed it); a crash would show at /healthz.
    req.on('error', (err) => resolve({ status: 0, body: err.message }))
    req.setTimeout(20_000, () => req.destroy(new Error(`no answer to ${method} ${p}`)))
    req.end(body)
  })
}

/** Raw bytes on a socket (what an HTTP client would refuse to send), then either read the answer or hang up midway. */
async function raw(port: number, bytes: string, abort: boolean): Promise<string> {
  const sock = connect(port, '127.0.0.1')
  await once(sock, 'connect')
  let text = ''
  sock.setEncoding('utf8').on('data', (d: string) => (text += d))
  sock.on('error', () => {})
  sock.write(bytes)
  if (abort) {
    sock.destroy()
    return ''
  }
  await Promise.race([once(sock, 'close'), sleep(15_000)])
  sock.destroy()
  return text
}

// A real daemon, its runs and a few dozen CLI processes: minutes on a loaded 2-core machine, more than .taprc's 300 s per file.
t.setTimeout(900_000)

t.test('a few hundred malformed requests: every one a 4xx JSON error or a closed socket, then /healthz answers and the schedule still runs', async (t) => {
  const { database } = await testDatabase(t)
  await seedTickets({ ...MYSQL, database })
  const cwd = t.testdir()
  await generateLogs({ outDir: path.join(cwd, 'in'), events: 500, days: 1, seed: 3 })
  const port = await freePort()
  const home = path.join(cwd, '.careplus')
  // A tick every 4 seconds: the schedule is seen running before and after the fuzzing.
  const env = { ...mysqlEnv(database), CAREPLUS_HOME: home, DAEMON_PORT: String(port), LOG_LEVEL: 'warn', PIPELINE_CRON: '*/4 * * * * *', PIPELINE_CATCHUP: 'false', PIPELINE_RETRIES: '0' }
  t.equal(cli(cwd, env, ['upload-logs', 'in']).status, 0)
  const d = await startDaemon(cwd, env, port)
  t.teardown(() => void d.child.kill('SIGKILL'))
  const good = token(home)

  const rnd = prng(12)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const junk = (n: number) => Array.from({ length: n }, () => String.fromCharCode(33 + Math.floor(rnd() * 94))).join('')
  const paths = ['/healthz', '/metrics', '/status', '/runs', '/runs/x', '/runs/20260101T000000Z-abcdef', '/runs/x/clear', '/pause', '/unpause', '/backfills', '/backfills/nope', '/query', '/', '/admin', '/status/', '/runs/../status', '/%zz', '/runs/%ff%fe/clear', `/${'a'.repeat(3000)}`, '/runs/' + 'b'.repeat(200)]
  const queries = ['', '?limit=abc', '?limit=-1', '?limit=1e9', '?limit=', '?limit=5&limit=6', '?%zz=%zz', `?${junk(30)}`, '?limit=99999999999999999999', '?limit=10']
  const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']
  const auths = [undefined, 'Bearer', 'Bearer wrong', `Bearer ${good}x`, `Basic ${Buffer.from('a:b').toString('base64')}`, `bearer ${good.slice(0, 10)}`, `Bearer ${good}`]
  const bodies: Array<string | undefined> = [
    undefined,
    '',
    '{',
    'null',
    '[]',
    '"text"',
    '{"sql": 5}',
    '{"sql": "DELETE FROM bronze.logs"}',
    '{"sql": "SELECT 1; DROP TABLE bronze.logs"}',
    '{"sql": "SELEKT nonsense"}',
    '{"sql": "select 1", "format": "xml"}',
    '{"logicalDate": "yesterday"}',
    '{"logicalDate": "2026-13-45"}',
    '{"tasks": [1, 2]}',
    '{"tasks": ["no-such-task"]}',
    '{"tasks": []}',
    '{"trigger": "DROP TABLE"}',
    '{"args": [1]}',
    '{"task": ""}',
    '{"task": "gold"}',
    '{"from": "2026-01-05", "to": "2026-01-01"}',
    '{"from": "2000-01-01", "to": "2030-01-01"}',
    '{"from": 1, "to": {}}',
    JSON.stringify({ deep: JSON.parse('['.repeat(500) + ']'.repeat(500)) }),
    '\u0000\u0001\u0002',
    junk(500),
  ]

  let sent = 0
  const statuses = new Map<number, number>()
  const problems: string[] = []
  const check = (what: string, a: Answer): void => {
    sent++
    statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1)
    if (a.status === 0) problems.push(`${what} → no HTTP answer: ${a.body}`)
    if (a.status >= 500) problems.push(`${what} → ${a.status} ${a.body.slice(0, 200)}`)
    if (a.status >= 400 && !what.startsWith('HEAD')) {
      let ok = false
      try {
        const e = (JSON.parse(a.body) as { error?: { code?: unknown; message?: unknown } }).error
        ok = typeof e?.code === 'string' && typeof e.message === 'string'
      } catch {
        ok = false
      }
      if (!ok) problems.push(`${what} → ${a.status} without a JSON error: ${a.body.slice(0, 200)}`)
    }
  }

  for (let i = 0; i < 300; i++) {
    const method = pick(methods)
    const p = pick(paths) + pick(queries)
    const auth = pick(auths)
    const body = method === 'GET' || method === 'HEAD' ? undefined : pick(bodies)
    // A valid POST /runs with the token would start a real run: the fuzzer sends none (its bodies are all invalid or refused).
    if (auth === `Bearer ${good}` && method === 'POST' && /^\/runs(\?|$)/.test(p) && (body === undefined || body === '' || body === '{"task": "gold"}')) continue
    const headers: Record<string, string> = {}
    if (auth) headers.authorization = auth
    if (rnd() < 0.3) headers['content-type'] = pick(['application/json', 'text/plain', 'multipart/form-data; boundary=x', junk(20)])
    const a = await send(port, method, p, headers, body)
    check(`${method} ${p.slice(0, 80)} ${auth?.slice(0, 12) ?? '-'} ${body?.slice(0, 40) ?? '-'}`, a)
  }

  // Oversized bodies, with and without a Content-Length, with and without the token.
  for (const auth of [undefined, `Bearer ${good}`]) {
    for (const chunked of [false, true]) {
      const big = Buffer.alloc(2 * 1024 * 1024, 'a')
      const headers: Record<string, string> = auth ? { authorization: auth } : {}
      if (chunked) headers['transfer-encoding'] = 'chunked'
      const a = await send(port, 'POST', '/query', headers, big)
      check(`POST /query ${auth ? 'token' : 'no token'} ${chunked ? 'chunked' : 'sized'} 2 MiB`, a)
      if (auth) t.equal(a.status, 413, `2 MiB body ${chunked ? 'chunked' : 'with a length'}: 413`)
    }
  }

  // What no HTTP client sends, and connections dropped midway.
  const raws = [
    'GARBAGE\r\n\r\n',
    'GET /healthz HTTP/9.9\r\n\r\n',
    `GET /${'x'.repeat(20_000)} HTTP/1.1\r\nhost: a\r\n\r\n`,
    `GET /status HTTP/1.1\r\nhost: a\r\nx-big: ${'y'.repeat(40_000)}\r\n\r\n`,
    'GET /status?limit=ä HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n',
    'POST /query HTTP/1.1\r\nhost: a\r\ncontent-length: abc\r\n\r\n',
    'POST /query HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\nZZ\r\n',
  ]
  for (const bytes of raws) {
    const text = await raw(port, bytes, false)
    sent++
    if (/^HTTP\/1\.1 5/.test(text)) problems.push(`raw ${JSON.stringify(bytes.slice(0, 40))} → ${text.slice(0, 100)}`)
  }
  for (let i = 0; i < 60; i++) {
    const auth = i % 2 ? `authorization: Bearer ${good}\r\n` : ''
    const partial = pick([
      `POST /query HTTP/1.1\r\nhost: a\r\n${auth}content-length: 100\r\n\r\n{"sql": "sel`,
      `POST /runs HTTP/1.1\r\nhost: a\r\n${auth}content-length: 50\r\n\r\n{`,
      'GET /status HTTP/1.1\r\nhost: a\r\n',
      'GET /sta',
      `POST /query HTTP/1.1\r\nhost: a\r\n${auth}content-length: 60\r\n\r\n{"sql":"SELECT * FROM range(10000000)"}`,
    ])
    await raw(port, partial, true)
    sent++
  }
  // A big query whose reader goes away after the first bytes: the statement must be interrupted, not left holding the warehouse.
  for (let i = 0; i < 5; i++) {
    const sock = connect(port, '127.0.0.1')
    await once(sock, 'connect')
    const body = JSON.stringify({ sql: 'SELECT i, repeat(\'x\', 100) AS pad FROM range(5000000) AS r(i)' })
    sock.write(`POST /query HTTP/1.1\r\nhost: a\r\nauthorization: Bearer ${good}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    await once(sock, 'data')
    sock.destroy()
    sent++
  }

  t.same(problems, [], 'no 5xx and every error is {"error":{"code","message"}}')
  // The fuzzer may have paused the schedule (a valid POST /pause with the token): the schedule check needs it running.
  t.equal(cli(cwd, env, ['unpause']).status, 0)
  t.ok(sent >= 350, `${sent} requests sent`)
  t.comment(`fuzz: ${sent} requests; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`)
  t.equal(d.child.exitCode, null, 'the daemon is still running')
  // A retry only for a kept-alive socket the daemon closed while spawnSync (above) blocked this process's timers.
  const health = await until('/healthz after the fuzz', () => fetch(`http://127.0.0.1:${port}/healthz`), 10_000)
  t.equal(health.status, 200)
  t.equal((await fetch(`http://127.0.0.1:${port}/status?limit=abc`)).status, 400)

  // The schedule still runs: a scheduled run that starts after the fuzzing succeeds.
  const after = new Date().toISOString().replace('T', ' ').slice(0, 19)
  const ran = await until('a scheduled run after the fuzzing', async () => statusOf(cwd, env, 200).find((r) => r.trigger === 'schedule' && r.state === 'success' && (r as { started_at?: string }).started_at! > after), 120_000).catch((err: Error) => {
    throw new Error(`${err.message}; recent runs ${JSON.stringify(statusOf(cwd, env, 5))}; daemon log ${d.logs().slice(-3000)}`)
  })
  t.ok(ran, `scheduled run ${ran.id} succeeded after the fuzzing`)
  const q = cli(cwd, env, ['query', 'SELECT count(*) AS n FROM bronze.logs', '--format', 'json'])
  t.same(JSON.parse(q.stdout), [{ n: 500 }], 'the warehouse answers queries; nothing was written by the fuzzer')

  // Paused, the ticks are recorded as skipped; unpaused, the schedule runs again.
  t.equal(cli(cwd, env, ['pause']).status, 0)
  const pausedAt = new Date().toISOString().replace('T', ' ').slice(0, 19)
  const skipped = await until('a tick skipped while paused', async () => statusOf(cwd, env, 200).find((r) => r.state === 'skipped' && /paused/.test(r.error ?? '') && (r as { started_at?: string }).started_at! > pausedAt), 60_000)
  t.match(skipped, { trigger: 'schedule', error: /careplus unpause/ })
  // The daemon logs the skip before it records it, but its stdout reaches this process through a pipe, a moment later.
  t.ok(await until('the skip in the daemon log', async () => (/the schedule is paused: this scheduled run is skipped/.test(d.logs()) ? true : undefined), 10_000))
  t.equal(cli(cwd, env, ['unpause']).status, 0)
  const resumedAt = new Date().toISOString().replace('T', ' ').slice(0, 19)
  await until('a scheduled run after unpause', async () => statusOf(cwd, env, 200).find((r) => r.trigger === 'schedule' && r.state === 'success' && (r as { started_at?: string }).started_at! > resumedAt), 120_000)
  t.equal(await d.stop(), 0, 'stops cleanly after all that: ' + d.logs().slice(-1000))
})
