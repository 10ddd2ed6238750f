import t from 'tap'
import { spawn } from 'node:child_process'
import path from 'node:path'
import type { PipelineError } from '../../src/errors.js'
import { loadConfig } from '../../src/config.js'
import { SnowflakeWarehouse, snowflakeSettings } from '../../src/warehouse/snowflakeWarehouse.js'
import { snowflakeTestEnv } from '../support/snowflake.js'

/**
 * Issue 14, item 6: an unreachable account fails within the login timeout
 * (SNOWFLAKE_LOGIN_TIMEOUT_SECONDS, 15 s by default), naming
 * SNOWFLAKE_ACCOUNT, instead of the driver's ~149 s of silent retries.
 */
const CLI = path.resolve(import.meta.dirname, '../../dist/src/cli.js')

t.test('the login timeout is a validated setting, 15 s by default', async (t) => {
  t.equal(loadConfig({}, t.testdir()).SNOWFLAKE_LOGIN_TIMEOUT_SECONDS, 15)
  t.throws(() => loadConfig({ SNOWFLAKE_LOGIN_TIMEOUT_SECONDS: '0' }, t.testdir()), { code: 'ERR_CONFIG', message: /^invalid setting SNOWFLAKE_LOGIN_TIMEOUT_SECONDS: / })
})

t.test('a host that never answers: the login fails at the timeout, naming SNOWFLAKE_ACCOUNT', async (t) => {
  const sf = await snowflakeTestEnv(t, { provision: false, env: { SNOWFLAKE_LOGIN_TIMEOUT_SECONDS: '2' } })
  const url = await sf.endpoint.unreachableUrl()
  const started = Date.now()
  const err = await SnowflakeWarehouse.open({ ...snowflakeSettings(sf.cfg), accessUrl: url }).then(
    () => undefined,
    (e: unknown) => e as PipelineError,
  )
  const seconds = (Date.now() - started) / 1000
  t.equal(err?.code, 'ERR_SNOWFLAKE_UNREACHABLE')
  t.equal(
    err?.message,
    `Snowflake login for user careplus_svc on account careplus-test did not complete within 2 s: no answer from ${new URL(url).host}; check SNOWFLAKE_ACCOUNT (careplus-test) and SNOWFLAKE_ACCESS_URL and the network (a retry may succeed if it is down only for now)`,
  )
  t.ok(sf.endpoint.unreachableConnections >= 1, 'the driver did try the address')
  // Generous on a loaded machine; the driver alone takes ~149 s.
  t.ok(seconds < 60, `gave up after ${seconds.toFixed(1)} s, not after the driver's own retries`)
})

t.test('an account whose host does not resolve: the CLI prints one line naming SNOWFLAKE_ACCOUNT and exits', async (t) => {
  const sf = await snowflakeTestEnv(t, { provision: false })
  const env = { ...sf.env, PATH: process.env.PATH ?? '', HOME: sf.home, SNOWFLAKE_LOGIN_TIMEOUT_SECONDS: '3', SNOWFLAKE_ACCESS_URL: 'https://no-such-account.careplus-test.invalid' }
  const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'query', 'SELECT 1'], { cwd: sf.home, env, timeout: 120_000 })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
  t.equal(r.status, 1)
  t.equal(r.stdout, '')
  t.match(
    r.stderr,
    /^careplus: Snowflake login (for user careplus_svc on account careplus-test did not complete within 3 s: the host does not resolve \((ENOTFOUND|EAI_AGAIN)\) from no-such-account\.careplus-test\.invalid|failed for user careplus_svc on account careplus-test at https:\/\/no-such-account\.careplus-test\.invalid: .*\(401001\)); check SNOWFLAKE_ACCOUNT \(careplus-test\) and SNOWFLAKE_ACCESS_URL and the network.*\n$/,
  )
})
