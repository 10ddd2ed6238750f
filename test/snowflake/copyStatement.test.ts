import t from 'tap'
import { compile } from '../../src/transform/compile.js'
import { exampleLoads } from '../../src/load/exampleLoads.js'
import { ddlColumnTypes } from '../../src/load/ddlColumnTypes.js'
import { copyResult, SNOWFLAKE_COPY_MAX_FILES, snowflakeCopyStatement, snowflakeCopyStatements, snowflakeLiteral } from '../../src/load/snowflakeCopy.js'

const types = ddlColumnTypes().get('bronze.log_rejects')!
const spec = (files: string[], extra: object = {}) => ({
  table: 'bronze.log_rejects',
  csvColumns: ['_source_file', '_source_line', 'reason', 'raw'],
  files,
  constants: { _loaded_at: '2025-08-01 00:00:00', _run_id: 'r1' },
  ...extra,
})

t.test('Snowflake literals escape backslashes as well as quotes', async (t) => {
  t.equal(snowflakeLiteral("it's"), "'it''s'")
  t.equal(snowflakeLiteral('C:\\new\\table'), "'C:\\\\new\\\\table'", 'a backslash would start an escape in Snowflake')
  const sql = snowflakeCopyStatement(spec(['stage/logs/back\\slash.log/e/rejects/part-00000.csv.gz']), types, { stage: 'bronze.careplus_stage', stagePrefix: 'stage/' })
  t.match(sql, /FROM '@bronze\.careplus_stage\/logs\/back\\\\slash\.log\/e\/rejects\/'\)/, 'an odd location is a quoted, escaped string')
})

t.test('paths below the stage prefix; at most 1,000 files a statement', async (t) => {
  t.throws(() => snowflakeCopyStatement(spec(['other/x.csv.gz']), types, { stagePrefix: 'stage/' }), /staged file other\/x\.csv\.gz is not under the stage prefix stage\//)
  const files = Array.from({ length: 2 * SNOWFLAKE_COPY_MAX_FILES + 1 }, (_, i) => `stage/tickets/run1/part-${String(i).padStart(5, '0')}.csv.gz`)
  t.throws(() => snowflakeCopyStatement(spec(files), types, { stagePrefix: 'stage/' }), /at most 1000 files/)
  const batches = snowflakeCopyStatements(spec(files), types, { stage: 'bronze.careplus_stage', stagePrefix: 'stage/' })
  t.same(
    batches.map((b) => b.files.length),
    [1000, 1000, 1],
  )
  t.same(batches.flatMap((b) => b.files), files, 'every file once, in order')
  t.ok(batches.every((b) => b.sql.includes('FROM @bronze.careplus_stage/tickets/run1/)')), 'each names its files relative to their folder')
  t.equal(batches[2]!.sql.split('FILES = (')[1]!.split(')')[0], "'part-02000.csv.gz'")
})

t.test("compile --target snowflake prints the engine's own COPY", async (t) => {
  const opts = { stage: 'bronze.careplus_stage', stagePrefix: 'stage/' }
  const printed = compile('snowflake', opts).filter((s) => s.startsWith('COPY INTO'))
  // The batches SnowflakeWarehouse.copyFromStage sends for the same loads (test/snowflake/warehouse.test.ts checks what reaches Snowflake).
  const sent = exampleLoads('stage/').flatMap((load) => snowflakeCopyStatements(load, ddlColumnTypes().get(load.table)!, opts).map((b) => b.sql))
  t.equal(printed.length, 3)
  t.same(printed, sent)
})

t.test("COPY's per-file result: loaded rows, the first error of a failed file, files Snowflake skipped", async (t) => {
  const row = (file: string, status: string, loaded: number, error: Record<string, unknown> = {}) => ({
    file,
    status,
    rows_parsed: loaded,
    rows_loaded: loaded,
    first_error: null,
    first_error_line: null,
    first_error_column_name: null,
    ...error,
  })
  const files = ['stage/t/a.csv.gz', 'stage/t/b.csv.gz']
  t.equal(copyResult('bronze.tickets', 'stage/', files, [row('s3://bkt/stage/t/a.csv.gz', 'LOADED', 3), row('s3://bkt/stage/t/b.csv.gz', 'LOADED', 4)]), 7)
  t.throws(
    () =>
      copyResult('bronze.tickets', 'stage/', files, [
        row('s3://bkt/stage/t/a.csv.gz', 'LOADED', 3),
        row('s3://bkt/stage/t/b.csv.gz', 'PARTIALLY_LOADED', 2, { first_error: "Timestamp 'x' is not recognized", first_error_line: 9, first_error_column_name: '"TICKETS"["_EXTRACTED_AT":13]' }),
      ]),
    { code: 'ERR_LOAD_FAILED', message: 'COPY INTO bronze.tickets: PARTIALLY_LOADED s3://bkt/stage/t/b.csv.gz: Timestamp \'x\' is not recognized (line 9, column "TICKETS"["_EXTRACTED_AT":13]); nothing was committed' },
  )
  t.throws(() => copyResult('bronze.tickets', 'stage/', files, [row('s3://bkt/stage/t/a.csv.gz', 'LOADED', 3)]), {
    code: 'ERR_LOAD_SKIPPED',
    message: /skipped 1 of 2 staged files as already loaded \(its load metadata\), e\.g\. stage\/t\/b\.csv\.gz/,
  })
  t.throws(() => copyResult('bronze.tickets', 'stage/', files, [{ status: 'Copy executed with 0 files processed.' }]), { code: 'ERR_LOAD_SKIPPED', message: /skipped 2 of 2/ })
  t.throws(
    () => copyResult('bronze.tickets', 'stage/', files, [row('s3://bkt/stage/t/a.csv.gz', 'LOADED', 3), row('s3://bkt/stage/t/b.csv.gz', 'LOAD_SKIPPED', 0, { first_error: 'File was loaded before.' })]),
    { code: 'ERR_LOAD_SKIPPED', message: /skipped 1 of 2 staged files as already loaded \(its load metadata\), e\.g\. stage\/t\/b\.csv\.gz/ },
    'a LOAD_SKIPPED row (fakesnow) is a skipped file, not a failed one',
  )
})
