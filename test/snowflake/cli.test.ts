import t from 'tap'
import { spawn } from 'node:child_process'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { loadConfig } from '../../src/config.js'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { splitStatements } from '../../src/warehouse/sqlFiles.js'
import { formatSetup, snowflakeSetup } from '../../src/warehouse/snowflakeSetup.js'
import { SnowflakeWarehouse, snowflakeSettings } from '../../src/warehouse/snowflakeWarehouse.js'
import { PRIVATE_KEY_PASSPHRASE, SF_ADMIN, snowflakeTestEnv } from '../support/snowflake.js'

const CLI = path.resolve(import.meta.dirname, '../../dist/src/cli.js')

/**
 * The compiled CLI, as an operator runs it: its own process, settings from
 * the environment only. Asynchronous, because the Snowflake endpoint it
 * talks to lives in this process.
 */
function careplus(cwd: string, env: Record<string, string>, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd, ...env }, timeout: 180_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

t.test('WAREHOUSE=snowflake settings are checked at the edge: one line naming what is missing, secrets never shown', async (t) => {
  const dir = t.testdir({ 'rsa_key.p8': 'not really a key' })
  const base = { WAREHOUSE: 'snowflake', S3_BUCKET: 'acme-stage', SNOWFLAKE_ACCOUNT: 'acme-prod', SNOWFLAKE_USER: 'careplus_svc', SNOWFLAKE_PASSWORD: 'hunter2-secret' }
  const cases: Array<[Record<string, string | undefined>, RegExp]> = [
    [{ SNOWFLAKE_ACCOUNT: undefined }, /^missing setting SNOWFLAKE_ACCOUNT: WAREHOUSE=snowflake needs the account identifier/],
    [{ SNOWFLAKE_USER: undefined }, /^missing setting SNOWFLAKE_USER: /],
    [{ SNOWFLAKE_PASSWORD: undefined }, /^missing setting SNOWFLAKE_PRIVATE_KEY_PATH: WAREHOUSE=snowflake needs a private key file for key-pair authentication \(or SNOWFLAKE_PASSWORD\)$/],
    [{ SNOWFLAKE_PRIVATE_KEY_PATH: 'nope.p8' }, /^invalid setting SNOWFLAKE_PRIVATE_KEY_PATH: no such file .*nope\.p8$/],
    [{ SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: 'pp-secret' }, /^missing setting SNOWFLAKE_PRIVATE_KEY_PATH: SNOWFLAKE_PRIVATE_KEY_PASSPHRASE is set, but no key file to decrypt$/],
    [{ S3_BUCKET: undefined }, /^missing setting S3_BUCKET: Snowflake loads the stage from S3/],
    [{ SNOWFLAKE_ACCOUNT: 'acme-prod.snowflakecomputing.com' }, /^invalid setting SNOWFLAKE_ACCOUNT: expected the account identifier alone/],
    [{ SNOWFLAKE_STAGE: 'careplus_stage' }, /^invalid setting SNOWFLAKE_STAGE: expected a schema-qualified Snowflake name/],
    [{ SNOWFLAKE_ROLE: 'careplus role; DROP' }, /^invalid setting SNOWFLAKE_ROLE: expected a Snowflake identifier/],
    [{ SNOWFLAKE_ACCESS_URL: 'snowflake.internal' }, /^invalid setting SNOWFLAKE_ACCESS_URL: expected an http\(s\) URL/],
  ]
  for (const [change, re] of cases) {
    const env = Object.fromEntries(Object.entries({ ...base, ...change }).filter(([, v]) => v !== undefined)) as Record<string, string>
    const err = (() => {
      try {
        loadConfig(env, dir)
      } catch (e) {
        return e as Error & { code: string }
      }
    })()
    t.equal(err?.code, 'ERR_CONFIG', Object.keys(change).join(', '))
    t.match(err?.message, re)
    t.notOk(err?.message.includes('\n'), 'one line')
    t.notMatch(err?.message, /hunter2|pp-secret/, 'no secret in the message')
  }
  const ok = loadConfig({ ...base, SNOWFLAKE_PRIVATE_KEY_PATH: 'rsa_key.p8' }, dir)
  t.equal(ok.SNOWFLAKE_PRIVATE_KEY_PATH, path.join(dir, 'rsa_key.p8'), 'the key path is resolved where the configuration was read')
  t.match(ok, { SNOWFLAKE_WAREHOUSE: 'careplus_wh', SNOWFLAKE_DATABASE: 'careplus', SNOWFLAKE_ROLE: 'careplus_role', SNOWFLAKE_STAGE: 'bronze.careplus_stage' })
  t.doesNotThrow(() => loadConfig({ SNOWFLAKE_ACCOUNT: undefined as unknown as string }, dir), 'nothing Snowflake is required with WAREHOUSE=duckdb')
})

t.test('setup --print, the administrator runs it, then setup, upload, ingest, transform, test and query through the CLI', async (t) => {
  const sf = await snowflakeTestEnv(t, { provision: false })
  const run = async (args: string[], env: Record<string, string> = {}) => careplus(sf.home, { ...sf.env, ...env }, args)

  // --print: the whole one-time SQL, from the configuration.
  const printed = await run(['setup', '--print'])
  t.equal(printed.status, 0, printed.stderr)
  t.equal(printed.stdout, formatSetup(snowflakeSetup(sf.cfg)), 'what snowflakeSetup generates')
  const publicKey = createPublicKey(createPrivateKey({ key: readFileSync(sf.keyPath), passphrase: PRIVATE_KEY_PASSPHRASE })).export({ type: 'spki', format: 'der' }).toString('base64')
  t.ok(printed.stdout.includes(`ALTER USER CAREPLUS_SVC SET RSA_PUBLIC_KEY = '${publicKey}';`), 'the public half of SNOWFLAKE_PRIVATE_KEY_PATH, ready for ALTER USER')
  t.notMatch(printed.stdout, /PRIVATE KEY|key-passphrase/, 'never the private key or its passphrase')
  for (const expected of [
    "CREATE WAREHOUSE IF NOT EXISTS CAREPLUS_WH\n  WAREHOUSE_SIZE = 'XSMALL'",
    'GRANT USAGE, CREATE SCHEMA ON DATABASE CAREPLUS TO ROLE CAREPLUS_ROLE;',
    "CREATE USER IF NOT EXISTS CAREPLUS_SVC\n  TYPE = SERVICE\n  DEFAULT_ROLE = CAREPLUS_ROLE",
    "STORAGE_AWS_ROLE_ARN = 'arn:aws:iam::123456789012:role/careplus-snowflake-stage'\n  STORAGE_ALLOWED_LOCATIONS = ('s3://careplus/stage/');",
    'GRANT USAGE ON INTEGRATION CAREPLUS_S3 TO ROLE CAREPLUS_ROLE;',
    "CREATE OR REPLACE FILE FORMAT bronze.careplus_csv\n  TYPE = CSV\n  COMPRESSION = GZIP\n  SKIP_HEADER = 1\n  FIELD_OPTIONALLY_ENCLOSED_BY = '\"'\n  EMPTY_FIELD_AS_NULL = TRUE\n  ESCAPE_UNENCLOSED_FIELD = NONE\n  NULL_IF = ();",
    "CREATE OR REPLACE STAGE bronze.careplus_stage\n  URL = 's3://careplus/stage/'\n  STORAGE_INTEGRATION = careplus_s3\n  FILE_FORMAT = (FORMAT_NAME = 'bronze.careplus_csv');",
    'CREATE TABLE IF NOT EXISTS ops.load_ledger (',
  ]) {
    t.ok(printed.stdout.includes(expected), expected.split('\n')[0]!)
  }

  // The administrator runs the first part (through snowflake-sdk, as a worksheet would).
  const statements = splitStatements(printed.stdout)
  const adminPart = statements.slice(0, statements.indexOf('USE ROLE CAREPLUS_ROLE'))
  t.equal(adminPart[0], 'USE ROLE USERADMIN', 'the least role first: no blanket ACCOUNTADMIN')
  const admin = await SnowflakeWarehouse.open({ ...snowflakeSettings(sf.cfg), user: SF_ADMIN.user, password: SF_ADMIN.password, privateKeyPath: undefined, role: 'ACCOUNTADMIN' })
  for (const sql of adminPart) await admin.run(sql)
  await admin.close()

  // A stage outside what the integration allows is Snowflake's error, on one line.
  const outside = await run(['setup'], { S3_STAGE_PREFIX: 'elsewhere/' })
  t.equal(outside.status, 1)
  t.match(outside.stderr, /^careplus: setup: CREATE OR REPLACE STAGE bronze\.careplus_stage: Snowflake 003116 \(22023\): SQL execution error: Location 's3:\/\/careplus\/elsewhere\/' is not allowed by integration 'CAREPLUS_S3'\./)

  // The pipeline's part, as the key-pair service user; twice, because it is idempotent.
  for (const attempt of [1, 2]) {
    const setup = await run(['setup'])
    t.equal(setup.status, 0, setup.stderr)
    t.match(setup.stdout, /^ok {2}CREATE SCHEMA IF NOT EXISTS bronze\n[\s\S]*ok {2}CREATE OR REPLACE STAGE bronze\.careplus_stage\n[\s\S]*ok {2}CREATE TABLE IF NOT EXISTS ops\.load_failures \(\nok {2}LIST @bronze\.careplus_stage\/careplus-setup-check\/ \(Snowflake reads s3:\/\/careplus\/stage\/ through careplus_s3\)\n$/, `setup run ${attempt}`)
  }
  t.match(sf.endpoint.stages.get('bronze.careplus_stage'), { url: 's3://careplus/stage/', integration: 'careplus_s3', fileFormat: { TYPE: 'CSV', NULL_IF: '()' } })

  // The pipeline's commands.
  const gen = await generateLogs({ outDir: path.join(sf.home, 'sample'), days: 3, events: 300, seed: 3 })
  const upload = await run(['upload-logs', path.join(sf.home, 'sample')])
  t.equal(upload.status, 0, upload.stderr)
  const ingest = await run(['ingest-logs', '--json'])
  t.equal(ingest.status, 0, ingest.stderr)
  t.match(JSON.parse(ingest.stdout), { objectsLoaded: 3, rows: gen.events, rejects: 0 })
  const transform = await run(['transform'])
  t.equal(transform.status, 0, transform.stderr)
  t.match(transform.stdout, /gold\.fct_logs +gold +table +[\d.]+ +\d+\n[\s\S]*data tests: 25 passed, 0 failed/)
  const test = await run(['test', 'gold'])
  t.equal(test.status, 0, test.stderr)
  const query = await run(['query', 'SELECT count(*) AS events, count(DISTINCT ticket_id) > 0 AS has_tickets FROM bronze.logs', '--format', 'json'])
  t.equal(query.status, 0, query.stderr)
  t.same(JSON.parse(query.stdout), [{ events: gen.events, has_tickets: true }], 'query streams through snowflake-sdk, lower-case names')

  const failing = await run(['query', 'SELECT * FROM gold.no_such_model'])
  t.equal(failing.status, 1)
  t.match(failing.stderr, /^careplus: Snowflake 002003 \(42S02\): SQL compilation error: Object 'GOLD\.NO_SUCH_MODEL' does not exist or not authorized\. \[query [0-9a-f-]+\]\n$/)
})

t.test('a wrong password: one clear line and a non-zero exit, the password never shown', async (t) => {
  const sf = await snowflakeTestEnv(t)
  const env: Record<string, string> = { ...sf.env, SNOWFLAKE_PASSWORD: 'Wr0ng-Passw0rd!' }
  delete env.SNOWFLAKE_PRIVATE_KEY_PATH
  delete env.SNOWFLAKE_PRIVATE_KEY_PASSPHRASE
  const r = await careplus(sf.home, env, ['ingest-logs'])
  t.equal(r.status, 1)
  t.equal(r.stderr, `careplus: Snowflake login failed for user careplus_svc on account careplus-test at ${sf.endpoint.url}: Incorrect username or password was specified. (390100)\n`)
  t.equal(r.stdout, '')
  t.notMatch(r.stderr + r.stdout, /Wr0ng-Passw0rd/)
  t.match(sf.endpoint.logins.at(-1), { user: 'careplus_svc', authenticator: 'SNOWFLAKE', ok: false, code: '390100' })
})

t.test('compile --target snowflake shows the session settings, the gold build in gold__build (transient, grants kept) and the swap', async (t) => {
  const dir = t.testdir()
  const r = await careplus(dir, { SNOWFLAKE_STATEMENT_TIMEOUT_IN_SECONDS: '7200', SNOWFLAKE_LOCK_TIMEOUT: '900' }, ['compile', '--target', 'snowflake'])
  t.equal(r.status, 0, r.stderr)
  const statements = splitStatements(r.stdout)
  t.same(statements.slice(0, 7), [
    "ALTER SESSION SET TIMEZONE = 'UTC'",
    "ALTER SESSION SET TIMESTAMP_TYPE_MAPPING = 'TIMESTAMP_NTZ'",
    "ALTER SESSION SET TIMESTAMP_INPUT_FORMAT = 'AUTO'",
    "ALTER SESSION SET DATE_INPUT_FORMAT = 'AUTO'",
    "ALTER SESSION SET TIMESTAMP_NTZ_OUTPUT_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF3'",
    'ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = 7200',
    'ALTER SESSION SET LOCK_TIMEOUT = 900',
  ], 'the session settings first, timeouts from the settings')
  for (const m of ['fct_logs', 'fct_tickets', 'fct_ticket_log_summary']) {
    t.ok(statements.includes(`CREATE OR REPLACE TRANSIENT TABLE gold__build.${m} LIKE gold.${m} COPY GRANTS`), `${m}: the live table's grants first`)
    t.ok(statements.some((s) => s.startsWith(`CREATE OR REPLACE TRANSIENT TABLE gold__build.${m} COPY GRANTS AS\nSELECT`) || s.startsWith(`CREATE OR REPLACE TRANSIENT TABLE gold__build.${m} COPY GRANTS AS\nWITH`)), `${m}: built transient in gold__build`)
  }
  t.equal(statements.filter((s) => s === 'ALTER SCHEMA gold SWAP WITH gold__build').length, 1, 'one swap')
  t.notOk(statements.some((s) => /^CREATE OR REPLACE (TRANSIENT )?TABLE gold\./.test(s)), 'nothing built in gold itself')
})
