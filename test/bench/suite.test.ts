import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { generateLogs } from '../../src/generate/logGenerator.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const RUNNER = path.join(ROOT, 'dist/bench/run.js')
const CASE_NAMES = ['node-idle', 'cli-startup', 'read', 'split2-lines', 'parse', 'parse-csv', 'csv-encode', 'cli-parse', 'parse-csv-gzip', 'parse-csv-gzip-3', 'parse-csv-gzip-1', 'parse-csv-gzip-2files', 'parse-csv-gzip-1mb-chunk', 'stage-e2e', 'load-1-object', 'get-5000-objects', 'load-5000-objects', 'stage-e2e-10x']
/** The many-small-objects cases read the input's first blocks (at most ~10 MB), the same ones each. */
const SLICE_CASES = ['load-1-object', 'get-5000-objects', 'load-5000-objects']
/** The process cases that read no input: a process's start and exit only. */
const PROCESS_ONLY_CASES = ['node-idle', 'cli-startup']
const CASE_FIELDS = ['name', 'bytes', 'events', 'seconds', 'mb_per_s', 'events_per_s', 'peak_rss_mib', 'staged_mb', 'warehouse_peak_rss_mib']
/** The cases that ingest as `careplus ingest-logs` does, DuckDB in a process of its own. */
const WAREHOUSE_PROCESS_CASES = ['stage-e2e', 'stage-e2e-10x']

function bench(home: string, args: string[]) {
  return spawnSync(process.execPath, [RUNNER, ...args], {
    cwd: home,
    encoding: 'utf8',
    // The test runner's loaders must not ride along into every case process.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CAREPLUS_HOME: path.join(home, '.careplus'), NODE_OPTIONS: '' },
    timeout: 240_000,
  })
}

t.test('the compiled suite runs every case on a tiny input and reports JSON only', async (t) => {
  t.ok(existsSync(RUNNER), `${RUNNER} exists (npm run build)`)
  const home = t.testdir()
  const results = path.join(home, 'results')
  const run = bench(home, ['--size', '200KB', '--repeat', '1', '--json', '--results', results])
  t.equal(run.status, 0, run.stderr)

  const out = JSON.parse(run.stdout) as { machine: Record<string, unknown>; cases: Array<Record<string, number | string>> }
  t.same(Object.keys(out), ['machine', 'cases'], 'stdout holds the results object and nothing else')
  t.match(out.machine, { cpu: String, cores: Number, node: process.version, os: String })
  t.same(
    out.cases.map((c) => c.name),
    CASE_NAMES,
  )
  for (const c of out.cases) {
    t.same(Object.keys(c), CASE_FIELDS, `${c.name}: the documented fields`)
    t.ok((c.seconds as number) > 0 && (c.peak_rss_mib as number) > 0, `${c.name}: timed, with a peak RSS`)
    if (String(c.name).startsWith('parse-csv-gzip')) t.ok((c.staged_mb as number) > 0, `${c.name}: reports what it staged`)
    else t.equal(c.staged_mb, null, `${c.name}: stages nothing it measures`)
    if (WAREHOUSE_PROCESS_CASES.includes(c.name as string)) t.ok((c.warehouse_peak_rss_mib as number) > 0, `${c.name}: reports its warehouse process's peak`)
    else t.equal(c.warehouse_peak_rss_mib, null, `${c.name}: has no warehouse process`)
  }

  // The generator is deterministic: the same size gives the same bytes and events here.
  const one = await generateLogs({ outDir: path.join(home, 'gen-1x'), days: 1, sizeBytes: 200_000 })
  const ten = await generateLogs({ outDir: path.join(home, 'gen-10x'), days: 1, sizeBytes: 2_000_000 })
  for (const c of out.cases.filter((c) => PROCESS_ONLY_CASES.includes(c.name as string))) t.match(c, { bytes: 0, events: 0, mb_per_s: 0 }, `${c.name}: reads nothing`)
  for (const c of out.cases.filter((c) => !SLICE_CASES.includes(c.name as string) && !PROCESS_ONLY_CASES.includes(c.name as string))) {
    const gen = c.name === 'stage-e2e-10x' ? ten : one
    t.equal(c.events, gen.events, `${c.name}: events = the generator's ${gen.events}`)
    t.equal(c.bytes, gen.bytes, `${c.name}: bytes = the file's ${gen.bytes}`)
  }
  const slices = out.cases.filter((c) => SLICE_CASES.includes(c.name as string))
  t.ok(slices.every((c) => c.bytes === slices[0]!.bytes && c.events === slices[0]!.events), 'the small-object cases ingest the same bytes and events')
  t.ok((slices[0]!.bytes as number) > 0 && (slices[0]!.bytes as number) < one.bytes, `a whole-block slice of the input (${slices[0]!.bytes} bytes)`)

  const cached = path.join(home, '.careplus/bench/input/200000')
  const manifest = JSON.parse(readFileSync(path.join(cached, 'input.json'), 'utf8')) as { file: string; bytes: number; events: number }
  t.match(manifest, { bytes: one.bytes, events: one.events })
  t.equal(statSync(path.join(cached, manifest.file)).size, one.bytes, 'the cached input is the generated file')

  const written = readdirSync(results).sort()
  t.equal(written.length, 2, 'one JSON and one markdown file')
  const json = written.find((f) => f.endsWith('.json'))!
  const md = written.find((f) => f.endsWith('.md'))!
  t.same(JSON.parse(readFileSync(path.join(results, json), 'utf8')), out, 'the JSON file holds what was printed')
  const markdown = readFileSync(path.join(results, md), 'utf8')
  t.match(markdown, /\| case \| MB\/s \| events\/s \| peak RSS \(MiB\) \| warehouse peak RSS \(MiB\) \| × split2-lines \| seconds \| staged MB \|/)
  t.match(markdown, /Machine: .*cores.*Node v\d+/)
  for (const name of CASE_NAMES) t.match(markdown, `| ${name} |`)
  for (const goal of ['cli-parse ≥ 0.85× parse-csv (MB/s)', 'cli-startup < 150 ms', 'stage-e2e peak RSS − node-idle ≤ 120 MiB', 'stage-e2e-10x peak RSS − node-idle within 10 % of stage-e2e']) {
    t.match(markdown, `| ${goal} |`, `the target "${goal}" is checked`)
  }

  // A second run reuses the cached input instead of generating it again.
  const again = bench(home, ['--size', '200KB', '--repeat', '1', '--cases', 'read,parse', '--results', results])
  t.equal(again.status, 0, again.stderr)
  t.notMatch(again.stderr, /generating/, 'no generation on the second run')
  t.match(again.stdout, /│ parse +│/, 'a table on stdout without --json')
})

t.test('results go to $CAREPLUS_HOME/bench/results by default, to bench/results with --save', async (t) => {
  const home = t.testdir()
  const plain = bench(home, ['--size', '200KB', '--repeat', '1', '--cases', 'read'])
  t.equal(plain.status, 0, plain.stderr)
  const defaultDir = path.join(home, '.careplus/bench/results')
  t.equal(readdirSync(defaultDir).length, 2, 'one JSON and one markdown file under CAREPLUS_HOME')
  t.match(plain.stderr, `results: ${defaultDir}/`)

  const saved = bench(home, ['--size', '200KB', '--repeat', '1', '--cases', 'read', '--save'])
  t.equal(saved.status, 0, saved.stderr)
  const base = /results: (.*)\.\{json,md\}/.exec(saved.stderr)?.[1]
  t.ok(base, saved.stderr)
  t.teardown(() => {
    for (const ext of ['.json', '.md']) rmSync(base + ext, { force: true })
  })
  t.equal(path.dirname(base!), path.join(ROOT, 'bench/results'), '--save writes into the project, for committing')
  t.ok(existsSync(base + '.json') && existsSync(base + '.md'))
  t.equal(readdirSync(defaultDir).length, 2, 'and not under CAREPLUS_HOME')

  const both = bench(home, ['--save', '--results', path.join(home, 'x')])
  t.equal(both.status, 1)
  t.match(both.stderr, /^bench: --save and --results both say where the results go/)
})

t.test('bad arguments fail with one line', async (t) => {
  const home = t.testdir()
  const unknown = bench(home, ['--cases', 'parse,nope'])
  t.equal(unknown.status, 1)
  t.match(unknown.stderr, /^bench: unknown case nope; the suite: node-idle, cli-startup, read, split2-lines/)
  const size = bench(home, ['--size', 'lots'])
  t.equal(size.status, 1)
  t.match(size.stderr, /^bench: Invalid size "lots"/)
})
