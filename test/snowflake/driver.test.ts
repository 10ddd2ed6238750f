import t from 'tap'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { PipelineError } from '../../src/errors.js'
import { openTestWarehouse, snowflakeTestEnv } from '../support/snowflake.js'

/**
 * Issue 14, item 1: the driver. snowflake-sdk 2.4.x could take an
 * interrupted result download for an empty success (connector #1418, fixed
 * in 3.0.0); stream() also fails, rather than hangs, when a result stops
 * delivering. The endpoint answers large results in chunks the driver
 * downloads, as Snowflake does.
 */

const ROWS = 2500
/** 2,500 numbers, in SQL both Snowflake and the endpoint's DuckDB run. */
const NUMBERS = `WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS}) SELECT i FROM n ORDER BY i`

async function drain(stream: AsyncIterable<{ columns: string[]; rows: unknown[][] }>, perChunk?: () => Promise<void>) {
  const values: unknown[] = []
  let chunks = 0
  for await (const c of stream) {
    chunks++
    for (const r of c.rows) values.push(r[0])
    await perChunk?.()
  }
  return { values, chunks }
}

t.test('snowflake-sdk is the current 3.x, pinned exactly', async (t) => {
  const pkg = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { dependencies: Record<string, string> }
  t.match(pkg.dependencies['snowflake-sdk'], /^3\.\d+\.\d+$/, 'an exact 3.x version, no range')
  const installed = createRequire(import.meta.url)('snowflake-sdk/package.json') as { version: string }
  t.equal(installed.version, pkg.dependencies['snowflake-sdk'], 'the version installed is the one pinned')
})

t.test('a large result arrives in chunks; an interrupted chunk download is retried, not taken for the end of the rows', async (t) => {
  const sf = await snowflakeTestEnv(t, { endpoint: { resultChunkRows: 500 } })
  const wh = await openTestWarehouse(t, sf.cfg)

  const whole = await drain(wh.stream(NUMBERS))
  t.same(whole.values, Array.from({ length: ROWS }, (_, i) => i + 1), 'every row, in order')
  t.equal(whole.chunks, Math.ceil(ROWS / 1000), 'stream() hands them on 1,000 at a time')
  const queryId = sf.endpoint.chunkRequests[0]!.split('/')[0]
  t.same(sf.endpoint.chunkRequests.map((c) => c.split('/')[1]).sort(), ['0', '1', '2', '3'], 'the driver downloaded the 4 chunks after the inline 500 rows')
  t.ok(sf.endpoint.chunkRequests.every((c) => c.startsWith(`${queryId}/`)))

  // A chunk download cut off midway (the connection drops after half its bytes).
  const before = sf.endpoint.chunkRequests.length
  sf.endpoint.faultOnChunk(1, 'cut')
  const cut = await drain(wh.stream(NUMBERS))
  t.same(cut.values, whole.values, 'all 2,500 rows still: the cut download was an error the driver retried')
  t.equal(sf.endpoint.chunkRequests.slice(before).filter((c) => c.endsWith('/1')).length, 2, 'chunk 1 was downloaded twice')

  // query() reads the chunks too (the whole result, for small reads).
  const rows = await wh.query(NUMBERS)
  t.equal(rows.length, ROWS)
})

t.test('a result that stops delivering fails after the idle timeout, as a transient error; a slow consumer does not', async (t) => {
  const sf = await snowflakeTestEnv(t, { endpoint: { resultChunkRows: 500 }, env: { SNOWFLAKE_STREAM_IDLE_TIMEOUT_SECONDS: '1' } })
  const wh = await openTestWarehouse(t, sf.cfg)

  sf.endpoint.faultOnChunk(2, 'stall')
  const err = await drain(wh.stream(NUMBERS)).then(
    () => undefined,
    (e: unknown) => e as PipelineError,
  )
  t.ok(err instanceof PipelineError, 'it fails instead of hanging')
  t.equal(err?.code, 'ERR_SNOWFLAKE_STREAM_STALLED')
  t.match(err?.message, /^Snowflake query result stalled: no row for 1 s after 1500 rows \[query [0-9a-f-]+\]; a result chunk stopped arriving \(network or cloud storage\); transient, a retry may succeed$/)
  sf.endpoint.releaseChunks()
  t.same(await wh.query('SELECT 1 AS one'), [{ one: 1 }], 'the session is free again')

  // Time the caller spends on a chunk is not idle time: the driver keeps the rows buffered meanwhile.
  const slow = await drain(wh.stream(NUMBERS), () => sleep(1500))
  t.equal(slow.values.length, ROWS, 'a consumer slower than the idle timeout gets every row')
})
