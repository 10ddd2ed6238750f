import t from 'tap'
import { REJECT_COLUMNS } from '../../parsers/logRecord.js'
import { csvHeader, encodeCsvBatch } from '../../sinks/csvEncoding.js'
import { StageWriter } from '../../sinks/stageWriter.js'
import type { PipelineError } from '../../src/errors.js'
import type { ObjectStore } from '../../src/s3/objectStore.js'
import { openTestWarehouse, snowflakeTestEnv } from '../support/snowflake.js'

/**
 * Issue 14, item 9: a file COPY reports as LOAD_SKIPPED (Snowflake's load
 * metadata says it was loaded before; how tekumara/fakesnow answers) is a
 * skipped file, the same as one left out of the result, not a failed one.
 */
async function stage(store: ObjectStore, prefix: string, raws: string[]) {
  const writer = new StageWriter({ store, keyPrefix: prefix, header: csvHeader(REJECT_COLUMNS), maxFileBytes: 1e6 })
  const rows = raws.map((raw, i) => ({ _source_file: 'logs/x.log', _source_line: i + 1, reason: 'test', raw }))
  await writer.write(encodeCsvBatch(rows, REJECT_COLUMNS), rows.length)
  return (await writer.close()).map((f) => f.key)
}

for (const skippedFiles of ['row', 'omit'] as const) {
  t.test(`files skipped by the load metadata (${skippedFiles === 'row' ? 'a LOAD_SKIPPED row, as fakesnow' : 'left out, as Snowflake'}): ERR_LOAD_SKIPPED, nothing committed`, async (t) => {
    const sf = await snowflakeTestEnv(t, { endpoint: { skippedFiles } })
    const wh = await openTestWarehouse(t, sf.cfg)
    await wh.migrate()
    const first = await stage(sf.store, 'stage/logs/a.log/e1/rejects/', ['a', 'b'])
    const spec = (files: string[]) => ({ table: 'bronze.log_rejects', csvColumns: REJECT_COLUMNS, files, constants: { _loaded_at: '2025-08-01 02:00:05.000', _run_id: 'run-1' } })
    t.equal(await wh.transaction((tx) => tx.copyFromStage(spec(first))), 2)

    const second = await stage(sf.store, 'stage/logs/a.log/e1/rejects2/', ['c'])
    const err = await wh.transaction((tx) => tx.copyFromStage(spec([...first, ...second]))).then(
      () => undefined,
      (e: unknown) => e as PipelineError,
    )
    const copy = sf.endpoint.statements.filter((s) => s.sql.startsWith('COPY INTO bronze.log_rejects')).at(-1)!
    t.notOk(copy.error, 'Snowflake ran the COPY')
    t.equal(err?.code, 'ERR_LOAD_SKIPPED', 'skipped, not LOAD_FAILED')
    t.match(err?.message, /^COPY INTO bronze\.log_rejects: Snowflake skipped 1 of 2 staged files as already loaded \(its load metadata\), e\.g\. stage\/logs\/a\.log\/e1\/rejects\/part-00000\.csv\.gz; nothing was committed$/)
    t.same(await wh.query('SELECT count(*) AS n FROM bronze.log_rejects'), [{ n: 2 }], 'the new file\'s row rolled back with the load')
  })
}
