import t from 'tap'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { ingestLogs } from '../../src/pipelines/ingestLogs.js'
import { openTestWarehouse, snowflakeTestEnv } from '../support/snowflake.js'

/** Keys a person or a shipper can give an object: none of them may reach a stage path. */
const ODD_KEYS = [
  'logs/with space/day 1.log',
  "logs/it's/quote'd.log",
  'logs/double"quote/x.log',
  'logs/at@sign/@stage.log',
  'logs/non-ascii/journée-日本-🚀.log',
  'logs/percent%20and+plus/a%2Fb.log',
  'logs/semi;colon/(paren)/x.log',
]

const block = (key: string, n: number) =>
  `2025-07-01 00:0${n}:00 [INFO] careplus.support.GenericService - TicketID=TCK000000${n} SessionID=sess_${n}\n` +
  `IP=10.0.0.${n} | ResponseTime=${100 + n}ms | CPU=12.5% | EventType=generic_event | Error=false\n` +
  `UserAgent="probe"\nMessage="${key.length} chars"\nDebug="none"\nTraceID=None\n---\n`

t.test('odd object keys (spaces, quotes, @, non-ASCII) never reach a stage path, and land in _source_file as they are', async (t) => {
  const sf = await snowflakeTestEnv(t)
  for (const key of ODD_KEYS) {
    await sf.store.client.send(new PutObjectCommand({ Bucket: sf.store.bucket, Key: key, Body: block(key, 1) + block(key, 2) }))
  }
  const wh = await openTestWarehouse(t, sf.cfg)
  const from = sf.endpoint.statements.length
  const s = await ingestLogs({ cfg: sf.cfg, store: sf.store, warehouse: wh })
  t.match(s, { objectsLoaded: ODD_KEYS.length, rows: ODD_KEYS.length * 2, rejects: 0 })

  const copies = sf.endpoint.statements.slice(from).filter((x) => x.sql.startsWith('COPY INTO '))
  t.equal(copies.length, 1, 'one COPY for the one batch (bronze.logs; no rejects, so no rejects COPY)')
  t.ok(copies.every((c) => !c.error), 'every COPY loaded')
  for (const c of copies) {
    // The COPY names the batch folder only: its paths are run id, batch number and part number.
    const paths = [...c.sql.matchAll(/@[^\s)]+/g)].map((m) => m[0])
    t.ok(paths.length > 0, `the COPY names its stage: ${paths.join(' ')}`)
    t.ok(paths.every((p) => /^@[\w."]+\/?[\w/.-]*$/.test(p)), `stage paths are plain characters: ${paths.join(' ')}`)
    for (const key of ODD_KEYS) t.notOk(c.sql.includes(key.split('/')[1]!), `no part of ${JSON.stringify(key)} in the COPY`)
  }

  const rows = await wh.query('SELECT _source_file, count(*) AS n FROM bronze.logs GROUP BY 1 ORDER BY 1')
  t.same(
    rows,
    [...ODD_KEYS].sort().map((k) => ({ _source_file: k, n: 2 })),
    'each key is in _source_file byte for byte',
  )
  const ledger = await wh.query('SELECT object_key FROM ops.load_ledger ORDER BY 1')
  t.same(ledger.map((r) => r.object_key), [...ODD_KEYS].sort(), 'one ledger row per odd key')

  // A rerun finds every odd key in the ledger: nothing is loaded twice.
  const again = await ingestLogs({ cfg: sf.cfg, store: sf.store, warehouse: wh })
  t.match(again, { objectsLoaded: 0, objectsUnchanged: ODD_KEYS.length })
})
