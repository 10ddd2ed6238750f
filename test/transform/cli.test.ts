import t from 'tap'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { compile, formatCompiled } from '../../src/transform/compile.js'
import { DuckDbWarehouse } from '../../src/warehouse/duckdbWarehouse.js'
import { insertLogs, insertTickets } from './fixtures/bronze.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const dist = (p: string) => pathToFileURL(path.join(ROOT, 'dist', p)).href

/**
 * A stand-in for src/cli.ts (which wires registerTransformCommands in
 * itself): the commands on a commander program, errors printed as
 * `careplus: <message>` with exit code 1. Runs the built JS, like the CLI.
 */
const ENTRY = `
import { Command } from 'commander'
import { loadConfig } from '${dist('src/config.js')}'
import { registerTransformCommands } from '${dist('src/cli/transformCommands.js')}'
const program = new Command().name('careplus')
registerTransformCommands(program, { config: () => loadConfig(), signal: new AbortController().signal })
try {
  await program.parseAsync(process.argv)
} catch (e) {
  process.stderr.write('careplus: ' + e.message.split('\\n')[0] + '\\n')
  process.exitCode = 1
}
`

function careplus(home: string, args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [path.join(home, 'entry.mjs'), ...args], {
    cwd: home,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CAREPLUS_HOME: path.join(home, '.careplus'), LOG_LEVEL: 'silent' },
    timeout: 120_000,
  })
}

t.test('transform, test, compile and the job entry', async (t) => {
  // Under the project folder, so 'commander' resolves from its node_modules.
  const home = t.testdir()
  writeFileSync(path.join(home, 'entry.mjs'), ENTRY)
  const open = () => DuckDbWarehouse.open({ file: path.join(home, '.careplus', 'warehouse.duckdb'), tmpDir: path.join(home, '.careplus', 'tmp') })
  let wh = await open()
  await wh.migrate()
  await insertTickets(wh, [
    { ticket_id: 'T1', created_at: '2025-07-07 10:00:59', resolved_at: '2025-07-07 10:01:00', priority: 'Lw' },
    { ticket_id: 'T2', created_at: '2025-07-08 10:00:00', resolved_at: null },
  ])
  await insertLogs(wh, [{ timestamp: '2025-07-07 10:05:00', log_level: 'EROR', ticket_id: 'T1', response_time_ms: 1000, cpu_percent: 80, _source_line: 1 }])
  await wh.close()

  const ok = careplus(home, ['transform'])
  t.equal(ok.status, 0, ok.stderr)
  t.match(ok.stdout, /^model +layer +kind +seconds +rows\nsilver\.stg_logs +silver +view +\d+\.\d{3} +-\n/)
  t.match(ok.stdout, /\ngold\.fct_ticket_log_summary +gold +table +\d+\.\d{3} +2\n/)
  t.match(ok.stdout, /data tests: 25 passed, 0 failed\ntotal \d+\.\d\d s\n$/)
  t.equal(ok.stderr, '')

  const silverOnly = careplus(home, ['transform', 'silver'])
  t.equal(silverOnly.status, 0, silverOnly.stderr)
  t.notMatch(silverOnly.stdout, /gold\./)

  const bad = careplus(home, ['transform', 'bronze'])
  t.equal(bad.status, 1)
  t.match(bad.stderr, /value 'bronze' is invalid for argument 'layer'\. Allowed choices are silver, gold/)

  const tests = careplus(home, ['test'])
  t.equal(tests.status, 0, tests.stderr)
  t.equal(tests.stdout, 'data tests: 25 passed, 0 failed\n')

  wh = await open()
  await insertTickets(wh, [{ ticket_id: 'T3', priority: 'Urgent' }])
  await wh.close()
  const failing = careplus(home, ['transform'])
  t.equal(failing.status, 1)
  t.match(failing.stdout, /silver\.stg_tickets +silver +view/)
  t.notMatch(failing.stdout, /gold\.fct_tickets/, 'gold did not run')
  t.equal(
    failing.stderr,
    'FAIL silver.stg_tickets accepted_values(priority): 1 offending row\n' +
      '  {"priority":"Urgent","n_records":1}\n' +
      'careplus: data tests failed after silver: silver.stg_tickets accepted_values(priority) (1 row); gold not run\n',
  )
  const failingTest = careplus(home, ['test', 'silver'])
  t.equal(failingTest.status, 1)
  t.match(failingTest.stdout, /^data tests: \d+ passed, 1 failed\n$/)
  t.match(failingTest.stderr, /^FAIL silver\.stg_tickets accepted_values\(priority\): 1 offending row\n.*\ncareplus: data tests failed: silver\.stg_tickets accepted_values\(priority\) \(1 row\)\n$/)

  const job = spawnSync(process.execPath, [path.join(ROOT, 'jobs/transform.js')], {
    cwd: home,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CAREPLUS_HOME: path.join(home, '.careplus'), LOG_LEVEL: 'silent' },
    timeout: 120_000,
  })
  t.equal(job.status, 1, 'the job fails on the failing test')
  t.match(job.stderr, /FAIL silver\.stg_tickets accepted_values\(priority\)[\s\S]*\ntransform: data tests failed after silver/)

  wh = await open()
  await wh.run("DELETE FROM bronze.tickets WHERE ticket_id = 'T3'")
  await wh.close()
  const jobOk = spawnSync(process.execPath, [path.join(ROOT, 'jobs/transform.js')], {
    cwd: home,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CAREPLUS_HOME: path.join(home, '.careplus'), LOG_LEVEL: 'silent' },
    timeout: 120_000,
  })
  t.equal(jobOk.status, 0, jobOk.stderr)
  t.match(jobOk.stdout, /gold\.fct_tickets +gold +table +\d+\.\d{3} +2\n[\s\S]*data tests: 25 passed, 0 failed/)

  for (const target of ['duckdb', 'snowflake'] as const) {
    const c = careplus(home, ['compile', '--target', target])
    t.equal(c.status, 0, c.stderr)
    t.equal(c.stdout, formatCompiled(compile(target)), `compile --target ${target} prints every statement`)
  }
  const staged = careplus(home, ['compile', '--target', 'snowflake', '--stage', 'prod.raw.careplus_s3'])
  t.match(staged.stdout, /FROM @prod\.raw\.careplus_s3\/tickets\//, 'the stage is over S3_STAGE_PREFIX: paths below it')
  const missing = careplus(home, ['compile'])
  t.equal(missing.status, 1)
  t.match(missing.stderr, /required option '--target <engine>' not specified/)
})
