import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadConfig } from '../../src/config.js'
import { ingestTickets } from '../../src/pipelines/ingestTickets.js'
import { DuckDbWarehouse } from '../../src/warehouse/duckdbWarehouse.js'
import { fillSupportTickets, MYSQL, mysqlEnv, testDatabase } from '../support/mysql.js'
import { testRuntime } from '../support/runtime.js'
import { socketsHeldTo, startTcpFaultProxy } from './tcpFaultProxy.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const CLI = path.join(ROOT, 'dist/src/cli.js')
const TICKETS = 20_000

/** A table far larger than what the proxy lets through before it stalls (~3 MB of rows). */
async function bigTable(t: Tap.Test): Promise<{ database: string; q: (sql: string, v?: unknown[]) => Promise<Record<string, unknown>[]> }> {
  const { database, q } = await testDatabase(t)
  await fillSupportTickets(q, 'TCKP', TICKETS)
  return { database, q }
}

declare namespace Tap {
  type Test = Parameters<Parameters<typeof t.test>[1]>[0]
}

t.test('a silent partition mid-extraction fails after MYSQL_READ_TIMEOUT_MS as a transient error, its socket closed; the next run loads it all once', async (t) => {
  const { database } = await bigTable(t)
  const proxy = await startTcpFaultProxy(t, MYSQL.port, MYSQL.host)
  const rt = await testRuntime(t, { ...mysqlEnv(database), MYSQL_PORT: String(proxy.port), MYSQL_READ_TIMEOUT_MS: '2000' })
  // The handshake and the first rows pass, then nothing, either way, and no close.
  proxy.stallAfterBytes(300_000)
  const err = await ingestTickets({ cfg: rt.cfg, store: rt.store, warehouse: rt.warehouse }).catch((e: Error & { code?: string }) => e)
  const failedAt = performance.now()
  const stalledAt = await proxy.stalled
  const seconds = (failedAt - stalledAt) / 1000
  t.comment(`failed ${seconds.toFixed(2)} s after the partition began (MYSQL_READ_TIMEOUT_MS=2000)`)
  t.match(err, {
    code: 'ERR_MYSQL_TIMEOUT',
    message: /^MySQL at 127\.0\.0\.1:\d+ as user "root" sent nothing for 2000 ms \(MYSQL_READ_TIMEOUT_MS\).*transient, a retry may succeed$/,
  })
  t.ok(seconds >= 1.9 && seconds < 15, `failed after the read timeout, not the OS's (${seconds.toFixed(2)} s)`)
  t.ok(proxy.bytesToClients >= 300_000, 'rows were flowing when the partition began')
  t.same(socketsHeldTo(process.pid, proxy.port), [], 'no socket to MySQL left in this process (not even half-closed)')
  const n = async (sql: string) => Number(Object.values((await rt.warehouse.query(sql))[0]!)[0])
  t.equal(await n('SELECT count(*) FROM bronze.tickets'), 0, 'no partial load')
  t.equal(await n('SELECT count(*) FROM ops.watermarks'), 0, 'the watermark did not move')

  // The network heals (straight to MariaDB): the next run loads every ticket once.
  const cfg = loadConfig({ ...(rt.cfg as unknown as Record<string, string>), CAREPLUS_HOME: rt.home, MYSQL_PORT: String(MYSQL.port) }, rt.home)
  const s = await ingestTickets({ cfg, store: rt.store, warehouse: rt.warehouse })
  t.match(s, { rows: TICKETS, newTickets: TICKETS })
  t.equal(await n('SELECT count(DISTINCT ticket_id) FROM bronze.tickets'), TICKETS)
  t.equal(await n('SELECT count(*) FROM bronze.tickets'), TICKETS)
})

t.test('Ctrl-C while the CLI waits on a stalled MySQL connection: the process ends within 2 s', async (t) => {
  const { database } = await bigTable(t)
  const proxy = await startTcpFaultProxy(t, MYSQL.port, MYSQL.host)
  const home = t.testdir()
  const env = {
    PATH: process.env.PATH,
    CAREPLUS_HOME: path.join(home, '.careplus'),
    LOG_LEVEL: 'silent',
    ...mysqlEnv(database),
    MYSQL_PORT: String(proxy.port),
    // Far beyond the test: only the cancel can end the wait.
    MYSQL_READ_TIMEOUT_MS: '600000',
  }
  proxy.stallAfterBytes(300_000)
  const child = spawn(process.execPath, [CLI, 'ingest-tickets', '--json'], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const exited = once(child, 'exit')
  const first = await Promise.race([proxy.stalled.then(() => 'stalled'), exited.then(() => 'exited')])
  t.equal(first, 'stalled', `the run reached the stall: ${stderr}`)
  // Blocked for a while, as a user would be before pressing Ctrl-C.
  await sleep(1000)
  t.ok(socketsHeldTo(child.pid!, proxy.port).length >= 1, 'the CLI holds its MySQL connection while it waits')
  t.equal(child.exitCode, null, 'still waiting')
  const sent = performance.now()
  child.kill('SIGINT')
  const [code] = await Promise.race([exited, sleep(10_000).then(() => [null, 'timeout'] as const)])
  const seconds = (performance.now() - sent) / 1000
  t.comment(`exited ${seconds.toFixed(2)} s after SIGINT, code ${code}`)
  if (child.exitCode === null) child.kill('SIGKILL')
  t.ok(seconds < 2, `the process ended within 2 s of SIGINT (${seconds.toFixed(2)} s)`)
  t.not(code, 0, 'a cancelled run does not exit 0')
  t.match(stderr, /cancelled by SIGINT/)

  // Nothing was loaded; the next run (no partition) loads every ticket once.
  const wh = await DuckDbWarehouse.open({ file: path.join(env.CAREPLUS_HOME, 'warehouse.duckdb'), tmpDir: path.join(home, 'tmp-check') })
  t.equal(Number((await wh.query('SELECT count(*) AS n FROM bronze.tickets'))[0]!.n), 0, 'no partial load')
  await wh.close()
  const again = spawn(process.execPath, [CLI, 'ingest-tickets', '--json'], { cwd: home, env: { ...env, MYSQL_PORT: String(MYSQL.port) }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  again.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
  const [againCode] = await once(again, 'exit')
  t.equal(againCode, 0)
  t.match(JSON.parse(out), { rows: TICKETS, newTickets: TICKETS })
})
