import t from 'tap'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { cli, prepare } from '../support/cliHarness.js'

t.test('a run that quarantines an object ends success_with_failures: exit 3, a warning in status; the next run is a plain success', async (t) => {
  const { home, env } = await prepare(t)
  const quiet = { ...env, LOG_LEVEL: 'silent' }
  writeFileSync(path.join(home, 'broken.log.gz'), Buffer.from('not gzip at all'))
  t.equal(cli(home, quiet, ['upload-logs', 'broken.log.gz']).status, 0)

  const first = cli(home, quiet, ['run'])
  t.equal(first.status, 3, `exit 3 for success with failures: ${first.stderr}`)
  t.match(first.stderr, /quarantined objects \(careplus failures lists them\)/)
  t.match(first.stdout, /⚠ success_with_failures/, 'the grid marks the run as a warning')

  const [run] = JSON.parse(cli(home, quiet, ['status', '--format', 'json']).stdout).runs as Array<{ id: string; state: string; error: string | null; tasks: Array<{ name: string; state: string }> }>
  t.match(run, { state: 'success_with_failures', error: '1 object quarantined (careplus failures lists them)' })
  t.ok(run!.tasks.every((x) => x.state === 'success'), 'every task itself succeeded: gold was built from what loaded')
  t.match(JSON.parse(cli(home, quiet, ['failures', '--format', 'json']).stdout).failures, [{ key: 'logs/broken.log.gz', code: 'ERR_OBJECT_CORRUPT' }])

  // Quarantined with the same ETag, the object is skipped, not failed again: the next run is a success.
  const second = cli(home, quiet, ['run'])
  t.equal(second.status, 0, second.stderr)
  t.match(JSON.parse(cli(home, quiet, ['status', '--format', 'json']).stdout).runs[0], { state: 'success' })
})
