import t from 'tap'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { ingestLogs } from '../../src/pipelines/ingestLogs.js'
import { openTestWarehouse, snowflakeTestEnv } from '../support/snowflake.js'

const OBJECTS = 5000

/** A ~2 KB object of a Fluent Bit-style bucket: a few blocks, every 50th object with a broken one. */
function smallObject(i: number): string {
  const ticket = `TCK${String(i).padStart(7, '0')}`
  const block = (n: number) =>
    `2025-07-${String(1 + (i % 28)).padStart(2, '0')} 00:${String(n % 60).padStart(2, '0')}:00 [INFO] careplus.support.GenericService - TicketID=${ticket} SessionID=sess_${ticket}\n` +
    `IP=10.0.${i % 250}.${n} | ResponseTime=${100 + n}ms | CPU=12.5% | EventType=generic_event | Error=false\n` +
    `UserAgent="Fluent Bit"\nMessage=" event ${n} for ${ticket}"\nDebug="ℹ️ Logged for monitoring"\nTraceID=None\n---\n`
  let text = ''
  for (let n = 0; n < 5; n++) text += block(n)
  return i % 50 === 0 ? text + 'a broken block\n---\n' : text
}

t.test(`${OBJECTS} small objects on Snowflake: a handful of COPY statements, every block once`, async (t) => {
  const sf = await snowflakeTestEnv(t)
  let next = 0
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < OBJECTS) {
        const i = next++
        await sf.store.client.send(new PutObjectCommand({ Bucket: sf.store.bucket, Key: `logs/host-${i % 7}/${String(i).padStart(5, '0')}.log`, Body: smallObject(i) }))
      }
    }),
  )
  const wh = await openTestWarehouse(t, sf.cfg)
  const from = sf.endpoint.statements.length
  const s = await ingestLogs({ cfg: { ...sf.cfg, INGEST_CONCURRENCY: 16 }, store: sf.store, warehouse: wh })
  const copies = sf.endpoint.statements.slice(from).filter((x) => x.sql.startsWith('COPY INTO '))
  t.match(s, { objectsLoaded: OBJECTS, rows: OBJECTS * 5, rejects: OBJECTS / 50, batches: OBJECTS / 1000 })
  t.ok(copies.length <= 10, `${copies.length} COPY statements for ${OBJECTS} objects (at most 10)`)
  t.equal(copies.length, 10, 'one per bronze table for each of the 5 batches')
  t.ok(copies.every((c) => !c.error), 'every COPY loaded')

  const [r] = await wh.query(
    `SELECT (SELECT count(*) FROM bronze.logs) AS logs, (SELECT count(*) FROM bronze.log_rejects) AS rejects,
            (SELECT count(*) FROM (SELECT DISTINCT _source_file, _source_line FROM bronze.logs)) AS distinct_blocks,
            (SELECT count(*) FROM ops.load_ledger) AS ledger, (SELECT sum(blocks) FROM ops.load_ledger) AS blocks`,
  )
  t.same(r, { logs: OBJECTS * 5, rejects: OBJECTS / 50, distinct_blocks: OBJECTS * 5, ledger: OBJECTS, blocks: OBJECTS * 5 + OBJECTS / 50 })
})
