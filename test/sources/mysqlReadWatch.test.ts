import t from 'tap'
import { closeMysql, connectMysql, MysqlReadWatch, queryMysql } from '../../src/sources/mysql.js'
import { MYSQL } from '../support/mysql.js'
import { socketsHeldTo, startTcpFaultProxy } from '../faults/tcpFaultProxy.js'

t.test('a query on a silent connection fails after readTimeoutMs, its socket destroyed', async (t) => {
  const proxy = await startTcpFaultProxy(t, MYSQL.port, MYSQL.host)
  const s = { ...MYSQL, port: proxy.port, readTimeoutMs: 500 }
  const conn = await connectMysql(s)
  const watch = new MysqlReadWatch(conn, s)
  t.same(await watch.during(() => queryMysql(conn, 'SELECT 1 AS one')), [{ one: 1 }], 'a healthy connection answers')
  proxy.stallAfterBytes(0)
  const started = performance.now()
  const err = await watch.during(() => queryMysql(conn, 'SELECT 2')).catch((e: Error) => e)
  const ms = performance.now() - started
  t.match(err, { code: 'ERR_MYSQL_TIMEOUT', message: /sent nothing for 500 ms \(MYSQL_READ_TIMEOUT_MS\)/ })
  t.ok(ms >= 450 && ms < 5000, `after ${ms.toFixed(0)} ms`)
  watch.stop()
  t.same(socketsHeldTo(process.pid, proxy.port), [], 'no socket left')
  await closeMysql(conn)
})

t.test('closing a silent connection returns at once and leaves no socket, not even half-closed', async (t) => {
  const proxy = await startTcpFaultProxy(t, MYSQL.port, MYSQL.host)
  const conn = await connectMysql({ ...MYSQL, port: proxy.port })
  t.equal(socketsHeldTo(process.pid, proxy.port).length, 1, 'one socket while connected')
  proxy.stallAfterBytes(0)
  const started = performance.now()
  await closeMysql(conn)
  const ms = performance.now() - started
  t.ok(ms < 2000, `closed after ${ms.toFixed(0)} ms`)
  t.same(socketsHeldTo(process.pid, proxy.port), [], 'no socket left')
})

t.test('an abort ends a stalled handshake, and a query waiting on a stalled connection, at once', async (t) => {
  const proxy = await startTcpFaultProxy(t, MYSQL.port, MYSQL.host)
  const s = { ...MYSQL, port: proxy.port }
  proxy.stallAfterBytes(0)
  const reason = new Error('cancelled by test')
  const handshake = new AbortController()
  setTimeout(() => handshake.abort(reason), 200)
  t.equal(await connectMysql(s, handshake.signal).catch((e: Error) => e), reason, 'the handshake rejects with the reason')
  t.equal(await connectMysql(s, handshake.signal).catch((e: Error) => e), reason, 'an aborted signal connects nothing')

  const healthy = await startTcpFaultProxy(t, MYSQL.port, MYSQL.host)
  const conn = await connectMysql({ ...MYSQL, port: healthy.port })
  const query = new AbortController()
  const watch = new MysqlReadWatch(conn, { ...MYSQL, port: healthy.port }, query.signal)
  healthy.stallAfterBytes(0)
  const waiting = watch.during(() => queryMysql(conn, 'SELECT 1')).catch((e: Error) => e)
  setTimeout(() => query.abort(reason), 200)
  t.equal(await waiting, reason, 'no read timeout set: only the abort ends the wait')
  watch.stop()
  t.same(socketsHeldTo(process.pid, healthy.port), [], 'no socket left')
  const late = new MysqlReadWatch(conn, MYSQL, query.signal)
  late.stop()
})
