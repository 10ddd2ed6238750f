import t from 'tap'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { compile, formatCompiled } from '../../src/transform/compile.js'
import { ddlColumnTypes } from '../../src/load/ddlColumnTypes.js'
import { snowflakeCopyStatement } from '../../src/load/snowflakeCopy.js'
import { genericTest, loadProject, orderModels, referencedModels, type Layer } from '../../src/transform/project.js'
import { ddlStatements, splitStatements } from '../../src/warehouse/sqlFiles.js'
import { projectCopy } from './fixtures/bronze.js'

t.test('dependency order comes from the SQL', async (t) => {
  const project = loadProject()
  t.same(
    project.models.map((m) => [m.name, m.dependsOn]),
    [
      ['silver.stg_logs', []],
      ['silver.stg_tickets', []],
      ['gold.fct_logs', ['silver.stg_logs']],
      ['gold.fct_tickets', ['silver.stg_tickets']],
      ['gold.fct_ticket_log_summary', ['gold.fct_logs', 'gold.fct_tickets']],
    ],
    'the summary reads both facts; the facts read silver',
  )

  const known = new Set(['silver.a', 'gold.b', 'gold.c'])
  t.same(
    referencedModels(
      `CREATE OR REPLACE TABLE gold.b AS
       -- not a dependency: gold.c
       SELECT 'gold.c' AS literal, x.ticket_id, careplus.silver.a.col /* gold.c */ FROM careplus.silver.a AS x JOIN util.cp_x(1) ON TRUE`,
      known,
      'gold.b',
    ),
    ['silver.a'],
    'comments, literals, aliases, functions and the model itself are not dependencies; db.schema.name is',
  )

  const m = (name: string, layer: Layer, dependsOn: string[] = []) => ({ name, layer, dependsOn })
  t.same(
    orderModels([m('gold.a_last', 'gold', ['gold.z_first']), m('gold.z_first', 'gold', ['silver.s']), m('silver.s', 'silver', ['bronze.logs'])]).map((x) => x.name),
    ['silver.s', 'gold.z_first', 'gold.a_last'],
    'a model comes after what it reads, whatever the file names say',
  )
  t.throws(() => orderModels([m('gold.a', 'gold', ['gold.b']), m('gold.b', 'gold', ['gold.c']), m('gold.c', 'gold', ['gold.a'])]), {
    code: 'ERR_MODEL_GRAPH',
    message: 'dependency cycle: gold.a → gold.b → gold.c → gold.a',
  })
  t.throws(() => orderModels([m('silver.s', 'silver', ['gold.g']), m('gold.g', 'gold')]), { code: 'ERR_MODEL_GRAPH', message: /silver\.s \(silver\) reads gold\.g from the later layer gold/ })

  // A project where a new gold model reads another: the runner discovers the order itself.
  const dir = projectCopy(t)
  writeFileSync(
    path.join(dir, 'models/gold/aa_ticket_days.sql'),
    '-- reads the summary, though it sorts first\nCREATE OR REPLACE TABLE gold.aa_ticket_days AS\nSELECT created_at FROM gold.fct_ticket_log_summary;\n',
  )
  t.same(
    loadProject(dir).models.filter((x) => x.layer === 'gold').map((x) => x.name),
    ['gold.fct_logs', 'gold.fct_tickets', 'gold.fct_ticket_log_summary', 'gold.aa_ticket_days'],
  )
})

t.test('test declarations and model files are validated', async (t) => {
  t.same(genericTest('silver.x', "accepted_values(channel, 'Web Form', 'It''s')"), {
    name: 'accepted_values(channel)',
    sql: "SELECT channel, COUNT(*) AS n_records\nFROM silver.x\nWHERE channel NOT IN ('Web Form', 'It''s')\nGROUP BY channel",
  })
  t.throws(() => genericTest('silver.x', 'accepted_values(channel, Chat)'), /quoted string literals/)
  t.throws(() => genericTest('silver.x', 'unique(a, b)'), /unique takes 1 argument/)
  t.throws(() => genericTest('silver.x', 'exists(a)'), /unknown test exists/)
  t.throws(() => genericTest('silver.x', 'not_null(A; DROP TABLE x)'), /column name/)

  const project = loadProject()
  const tests = project.models.flatMap((m) => m.tests.map((x) => `${m.name} ${x.name}`))
  for (const expected of [
    'silver.stg_tickets unique(ticket_id)',
    'silver.stg_tickets not_null(ticket_id)',
    'silver.stg_tickets accepted_values(priority)',
    'silver.stg_tickets accepted_values(status)',
    'silver.stg_tickets accepted_values(channel)',
    'silver.stg_logs accepted_values(log_level)',
    'silver.stg_logs unique_combination(timestamp, ticket_id, ip)',
    'silver.stg_logs reconciles_with_bronze',
    'gold.fct_tickets unique(ticket_id)',
    'gold.fct_tickets not_null(ticket_id)',
    'gold.fct_tickets accepted_values(resolution_bucket)',
    'gold.fct_logs accepted_values(response_bucket)',
    'gold.fct_logs accepted_values(cpu_load)',
    'gold.fct_ticket_log_summary unique(ticket_id)',
    'gold.fct_ticket_log_summary not_null(ticket_id)',
    'gold.fct_ticket_log_summary one_row_per(ticket_id, silver.stg_tickets)',
  ]) {
    t.ok(tests.includes(expected), expected)
  }

  const dir = projectCopy(t)
  const gold = path.join(dir, 'models/gold/fct_logs.sql')
  const original = readFileSync(gold, 'utf8')
  writeFileSync(gold, original.replace('CREATE OR REPLACE TABLE gold.fct_logs', 'CREATE OR REPLACE VIEW gold.fct_logs'))
  t.throws(() => loadProject(dir), { code: 'ERR_MODEL', message: /models\/gold\/fct_logs\.sql: a gold model starts "CREATE OR REPLACE TABLE gold\.fct_logs AS"/ })
  writeFileSync(gold, original.replace('-- @test accepted_values(cpu_load', '-- @test accepted_values(cpu_load, Low'))
  t.throws(() => loadProject(dir), { code: 'ERR_MODEL', message: /fct_logs\.sql:\d+: @test accepted_values\(cpu_load, Low.*quoted string literals/ })
  writeFileSync(gold, original)
  writeFileSync(path.join(dir, 'models/gold/nope.orphan.test.sql'), 'SELECT 1')
  t.throws(() => loadProject(dir), { code: 'ERR_MODEL', message: /no model gold\.nope for this test/ })
  rmSync(path.join(dir, 'models/gold/nope.orphan.test.sql'))
  t.ok(loadProject(dir))
})

const DUCKDB_ONLY = ['read_csv', 'MACRO', 'date_diff(', 'datediff(\'', 'strptime', 'try_cast', 'regexp_full_match', 'dayname(', 'isodow', '::', 'auto_detect', 'allow_quoted_nulls', 'typeof(']
const SNOWFLAKE_ONLY = ['IFF(', 'TRY_TO_NUMBER', 'TRY_TO_TIMESTAMP', 'DATEADD', 'DATEDIFF(', 'REGEXP_LIKE', 'DECODE(', 'DAYOFWEEKISO', 'COPY INTO', '$$', 'FUNCTION', 'SWAP WITH', 'TRANSIENT', 'COPY GRANTS', 'ALTER SESSION', 'gold__build']

/** `util.cp_*` names the text calls, and the ones its dialect statements define. */
function cpFunctions(statements: readonly string[]): { called: Set<string>; defined: Set<string> } {
  const defined = new Set<string>()
  const called = new Set<string>()
  for (const s of statements) {
    const def = /^CREATE OR REPLACE (?:MACRO|FUNCTION) (util\.cp_[a-z_]+)\s*\(/i.exec(s)
    if (def) defined.add(def[1]!)
    for (const m of s.replace(/^CREATE OR REPLACE (?:MACRO|FUNCTION) util\.cp_[a-z_]+/i, '').matchAll(/\b((?:[a-z_]+\.)?cp_[a-z_]+)\s*\(/gi)) called.add(m[1]!)
  }
  return { called, defined }
}

t.test('compile: every statement for each engine, in execution order', async (t) => {
  const duck = compile('duckdb')
  const snow = compile('snowflake', { stage: 'my_stage' })
  const ddl = ddlStatements()
  t.same(duck.slice(0, ddl.length), ddl, 'the bronze/ops DDL comes first')
  const session = snow.slice(0, snow.findIndex((s) => !s.startsWith('ALTER SESSION SET ')))
  t.ok(session.includes("ALTER SESSION SET TIMESTAMP_INPUT_FORMAT = 'AUTO'") && session.includes('ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = 172800'), 'Snowflake starts with the session settings')
  t.same(snow.slice(session.length, session.length + ddl.length), ddl, 'then the same DDL')

  for (const [name, statements] of [['duckdb', duck], ['snowflake', snow]] as const) {
    const text = formatCompiled(statements)
    t.ok(text.endsWith(';\n'), `${name}: ends with ;\\n`)
    t.same(splitStatements(text), statements, `${name}: the output splits at ";\\n" back into the statement list`)
    t.equal(text.split(';\n').length - 1, statements.length, `${name}: one ";\\n" per statement`)
    const gold = name === 'duckdb' ? (m: string) => `CREATE OR REPLACE TABLE gold.${m} AS` : (m: string) => `CREATE OR REPLACE TRANSIENT TABLE gold__build.${m} COPY GRANTS AS`
    const order = ['CREATE OR REPLACE VIEW silver.stg_logs', 'CREATE OR REPLACE VIEW silver.stg_tickets', 'FROM silver.stg_tickets\nWHERE ticket_id IS NULL', gold('fct_logs'), gold('fct_tickets'), gold('fct_ticket_log_summary'), 'FROM gold.fct_ticket_log_summary\nWHERE ticket_id IS NULL']
    const at = order.map((s) => statements.findIndex((x) => x.includes(s)))
    t.ok(at.every((i) => i >= 0) && at.every((i, k) => k === 0 || i > at[k - 1]!), `${name}: silver models, silver tests, gold models (dependency order), gold tests`)
    const { called, defined } = cpFunctions(statements)
    t.same([...defined].sort(), ['util.cp_day_name', 'util.cp_minutes_between', 'util.cp_try_int', 'util.cp_try_timestamp'], `${name}: the dialect defines the four helpers`)
    t.same([...called].filter((f) => !defined.has(f)), [], `${name}: every cp_ function called is defined in the dialect part`)
    const firstCall = statements.findIndex((s) => !/^CREATE OR REPLACE (MACRO|FUNCTION)/.test(s) && /cp_[a-z_]+\(/.test(s))
    const lastDef = statements.findLastIndex((s) => /^CREATE OR REPLACE (MACRO|FUNCTION)/.test(s))
    t.ok(lastDef < firstCall, `${name}: the functions are defined before their first use`)
  }

  const snowText = formatCompiled(snow)
  for (const word of DUCKDB_ONLY) t.notOk(snowText.toLowerCase().includes(word.toLowerCase()), `snowflake output has no ${word}`)
  const duckModels = formatCompiled(duck)
  for (const word of SNOWFLAKE_ONLY) t.notOk(duckModels.includes(word), `duckdb output has no ${word}`)

  // The models are one source: silver and the tests are the same text on both engines; Snowflake builds
  // gold as the same SELECTs into gold__build (reading gold models from there), then swaps it in.
  const modelsOf = (s: string[]) => s.filter((x) => /^CREATE OR REPLACE VIEW|^SELECT COUNT\(\*\) AS failures/.test(x))
  t.same(modelsOf(snow), modelsOf(duck), 'silver models and all tests are identical on both engines')
  const duckGold = duck.filter((x) => x.startsWith('CREATE OR REPLACE TABLE gold.'))
  const snowGold = snow.filter((x) => / gold__build\.\w+ COPY GRANTS AS\n/.test(x))
  t.same(
    snowGold,
    duckGold.map((x) => x.replace(/^CREATE OR REPLACE TABLE gold\.(\w+) AS/, 'CREATE OR REPLACE TRANSIENT TABLE gold__build.$1 COPY GRANTS AS').replace(/\bgold\.(fct_\w+)/g, 'gold__build.$1')),
    'Snowflake gold: the same SELECTs, built transient in gold__build',
  )
  t.equal(snow.filter((x) => x === 'ALTER SCHEMA gold SWAP WITH gold__build').length, 1, 'one swap publishes gold')
  t.ok(snow.indexOf('ALTER SCHEMA gold SWAP WITH gold__build') > snow.indexOf(snowGold.at(-1)!), 'after the last gold model, before the gold tests')

  const loads = snow.filter((s) => s.startsWith('COPY INTO'))
  t.same(loads.map((s) => /^COPY INTO (\S+)/.exec(s)![1]), ['bronze.logs', 'bronze.log_rejects', 'bronze.tickets'], 'one load per bronze table')
  t.match(loads[0], /^COPY INTO bronze\.logs \(timestamp, log_level, .*, _source_line, _loaded_at, _run_id\)\nFROM \(SELECT \$1, \$2, .*\$16, CAST\('[^']+' AS TIMESTAMP\), CAST\('[^']+' AS VARCHAR\) FROM @my_stage\/logs\/[0-9TZ]+-[0-9a-f]+\/batch-00001\/rows\/\)\nFILES = \('part-00000\.csv\.gz'\)\nFILE_FORMAT = \(TYPE = CSV, COMPRESSION = GZIP, SKIP_HEADER = 1, FIELD_OPTIONALLY_ENCLOSED_BY = '"', EMPTY_FIELD_AS_NULL = TRUE, ESCAPE_UNENCLOSED_FIELD = NONE, NULL_IF = \(\)\)\nON_ERROR = SKIP_FILE$/)
  t.ok(loads.every((l) => !/FORCE/.test(l)), 'every load stages new files (a folder per run), so Snowflake\'s load metadata stays a safety net')
  t.ok(compile('snowflake').some((s) => s.includes('FROM @bronze.careplus_stage/tickets/')), 'the stage defaults to SNOWFLAKE_STAGE\'s default, over the stage prefix')
  t.ok(compile('snowflake', { stagePrefix: 'raw/' }).some((s) => s.includes("FILES = ('part-00000.csv.gz')") && s.includes('FROM @bronze.careplus_stage/tickets/')), 'stage paths are keys without the configured stage prefix')
  const duckLoads = duck.filter((s) => s.startsWith('INSERT INTO bronze.'))
  t.equal(duckLoads.length, 3)
  t.match(duckLoads[2], /^INSERT INTO bronze\.tickets \("ticket_id", .*"_run_id"\) SELECT "ticket_id", .*, \?::TIMESTAMP, \?::TIMESTAMP, \?::VARCHAR FROM read_csv\(\['[^']+'\], header = true, .*allow_quoted_nulls = false, buffer_size = \d+, columns = \{'ticket_id': 'VARCHAR', .*'_row_hash': 'VARCHAR'\}\)$/)
})

t.test('snowflake COPY: files relative to their common folder, odd paths quoted', async (t) => {
  const types = ddlColumnTypes().get('bronze.log_rejects')!
  t.equal(types.get('_source_line'), 'BIGINT')
  const sql = snowflakeCopyStatement(
    { table: 'bronze.log_rejects', csvColumns: ['_source_file', '_source_line', 'reason', 'raw'], files: ["stage/logs/a b/x'/rejects/part-00000.csv.gz", "stage/logs/a b/x'/rejects/part-00001.csv.gz"], constants: { _loaded_at: '2025-08-01 00:00:00', _run_id: "it's" } },
    types,
  )
  t.match(sql, /FROM '@careplus_stage\/stage\/logs\/a b\/x''\/rejects\/'\)/, 'no stage prefix given: paths are the keys')
  t.match(sql, /FILES = \('part-00000\.csv\.gz', 'part-00001\.csv\.gz'\)/)
  t.match(sql, /CAST\('it''s' AS VARCHAR\)/)
  t.throws(() => snowflakeCopyStatement({ table: 'bronze.logs; DROP', csvColumns: [], files: ['x'], constants: {} }, types), /invalid table/)
})
