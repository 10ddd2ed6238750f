/**
 * The benchmark suite: every case on the same generated input, one after
 * another, each in a fresh process (`case.js`) so its peak RSS is its own.
 *
 *   npm run bench                       100MB input, fastest of 3 runs per case
 *   npm run bench -- --quick            50MB, one run per case (well under 2 minutes on 2 cores)
 *   npm run -s bench -- --size 50MB --json     (-s: no npm banner, so stdout is only the JSON)
 *   npm run bench -- --cases split2-lines,parse --repeat 5
 *   npm run bench -- --fresh            generate the inputs again (after a change to the generator)
 *   npm run bench -- --save             results into bench/results/, to commit
 *
 * Prints a table (or, with --json, only the results as JSON) and writes both
 * JSON and markdown to $CAREPLUS_HOME/bench/results/, beside the cached inputs
 * ($CAREPLUS_HOME/bench/input/); `--save` writes them to bench/results/ in the
 * project instead, for committing, and `--results <dir>` anywhere. Speeds are
 * only comparable within one run: compare ratios across machines. To profile a case:
 *   node --cpu-prof dist/bench/case.js parse $CAREPLUS_HOME/bench/input/100000000/careplus-2025-07-01.log
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.js'
import { parseByteSize } from '../src/generate/byteSize.js'
import { projectRoot } from '../src/projectRoot.js'
import type { CaseReport } from './case.js'
import { CASES } from './cases/index.js'
import type { BenchInput } from './harness.js'
import { benchInput } from './input.js'
import { describeMachine } from './machine.js'
import { caseResult, formatMarkdown, formatTable, type BenchResults, type CaseResult } from './report.js'

interface SuiteEntry {
  name: string
  case: string
  /** Input size as a multiple of --size. */
  scale: number
}

/** In this order. The last is the memory case: the same ingest on an input ten times larger. */
const SUITE: readonly SuiteEntry[] = [
  ...Object.keys(CASES).map((name) => ({ name, case: name, scale: 1 })),
  { name: 'stage-e2e-10x', case: 'stage-e2e', scale: 10 },
]

const CASE_SCRIPT = fileURLToPath(new URL('./case.js', import.meta.url))

function log(msg: string): void {
  process.stderr.write(msg + '\n')
}

/** Runs `case.js` in a child process; its last stdout line is the report. */
function runChild(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CASE_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.once('error', reject)
    child.once('close', (code, signal) => {
      if (code === 0) resolve(out.trim().split('\n').at(-1) ?? '')
      else reject(new Error(`bench case ${args[0]} failed (${signal ?? `exit ${code}`})`))
    })
  })
}

async function runCase(entry: SuiteEntry, input: BenchInput): Promise<CaseReport> {
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'careplus-bench-'))
  try {
    const args = [entry.case, input.file, '--work', workDir]
    if (CASES[entry.case]!.prepare) await runChild([...args, '--prepare'])
    const report = JSON.parse(await runChild(args)) as CaseReport
    // A case that lost or invented data measured something else.
    const expected = report.expected ?? input
    if (report.bytes !== expected.bytes || report.events !== expected.events) {
      throw new Error(`${entry.name}: saw ${report.bytes} bytes and ${report.events} events; the input holds ${expected.bytes} bytes and ${expected.events} events`)
    }
    return report
  } finally {
    await rm(workDir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      repeat: { type: 'string' },
      cases: { type: 'string' },
      results: { type: 'string' },
      save: { type: 'boolean', default: false },
      fresh: { type: 'boolean', default: false },
    },
  })
  if (values.save && values.results !== undefined) throw new Error('--save and --results both say where the results go: give one')
  const sizeArg = values.size ?? (values.quick ? '50MB' : '100MB')
  const sizeBytes = parseByteSize(sizeArg)
  const repeat = Number(values.repeat ?? (values.quick ? 1 : 3))
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat must be a positive integer, got ${values.repeat}`)
  const wanted = values.cases?.split(',').map((s) => s.trim())
  const unknown = wanted?.filter((n) => !SUITE.some((e) => e.name === n)) ?? []
  if (unknown.length > 0) throw new Error(`unknown case ${unknown.join(', ')}; the suite: ${SUITE.map((e) => e.name).join(', ')}`)
  const suite = SUITE.filter((e) => !wanted || wanted.includes(e.name))

  const home = loadConfig().home
  const inputs = new Map<number, BenchInput>()
  for (const scale of new Set(suite.map((e) => e.scale))) {
    const input = await benchInput(home, sizeBytes * scale, {
      fresh: values.fresh,
      onGenerate: (dir) => log(`generating a ${((sizeBytes * scale) / 1e6).toFixed(1)} MB input in ${dir}`),
    })
    inputs.set(scale, input)
  }

  const cases: CaseResult[] = []
  for (const entry of suite) {
    const input = inputs.get(entry.scale)!
    // The memory case too runs `repeat` times: its target must hold in every run, and the highest peak is reported.
    const runs = repeat
    const reports: CaseReport[] = []
    for (let i = 0; i < runs; i++) reports.push(await runCase(entry, input))
    const fastest = reports.reduce((a, b) => (b.seconds < a.seconds ? b : a))
    const peak = Math.max(...reports.map((r) => r.peak_rss_mib))
    const warehousePeaks = reports.flatMap((r) => (r.warehouse_peak_rss_mib === undefined ? [] : [r.warehouse_peak_rss_mib]))
    const warehousePeak = warehousePeaks.length > 0 ? Math.max(...warehousePeaks) : undefined
    const result = caseResult(entry.name, { ...fastest, peak_rss_mib: peak, warehouse_peak_rss_mib: warehousePeak })
    cases.push(result)
    log(`${entry.name.padEnd(18)} ${result.mb_per_s.toFixed(1).padStart(7)} MB/s  ${result.peak_rss_mib.toFixed(1).padStart(6)} MiB`)
  }

  const results: BenchResults = { machine: describeMachine(), cases }
  const stamp = new Date().toISOString().replace(/:/g, '').replace(/\.\d+Z$/, 'Z')
  const base = `${stamp}-${sizeArg.replace(/[^A-Za-z0-9.]/g, '')}${values.quick ? '-quick' : ''}`
  const dir = values.results ? path.resolve(values.results) : values.save ? path.join(projectRoot(), 'bench', 'results') : path.join(home, 'bench', 'results')
  const shown = inputs.get(1) ?? inputs.values().next().value!
  const markdown = formatMarkdown(results, {
    date: new Date().toISOString().slice(0, 10),
    command: ['node dist/bench/run.js', ...process.argv.slice(2)].join(' '),
    input: `${(shown.bytes / 1e6).toFixed(1)} MB, ${shown.events.toLocaleString('en-US')} events (the generator's logs, one day, seed 42); stage-e2e-10x: ten times that`,
    method: `cases in sequence, each in its own process; MB/s from the fastest of ${repeat} run${repeat === 1 ? '' : 's'}, peak RSS the highest; the stage-e2e peak is the ingest process's, its DuckDB warehouse process's beside it (the embedded S3 server runs in a process of its own); node-idle, cli-startup and cli-parse measure a process of their own from its spawn (cli-startup: fastest of 10 starts each run)`,
  })
  await mkdir(dir, { recursive: true })
  await writeFile(path.join(dir, `${base}.json`), JSON.stringify(results, null, 2) + '\n')
  await writeFile(path.join(dir, `${base}.md`), markdown)
  process.stdout.write(values.json ? JSON.stringify(results) + '\n' : formatTable(results))
  log(`results: ${path.join(dir, base)}.{json,md}`)
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
})
