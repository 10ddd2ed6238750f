/**
 * Runs one benchmark case in this process and prints its measurement as one
 * JSON line, with the process's peak RSS: the runner starts a fresh process
 * per case so that each peak is the case's own.
 *
 *   node dist/bench/case.js <case> <input.log> [--work <dir>] [--prepare]
 *
 * `--prepare` runs the case's set-up in `--work` instead (see `BenchCase.prepare`);
 * without `--work` a temporary folder is used and removed.
 */
import '../src/processSetup.js'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { CASES, isCaseName } from './cases/index.js'
import type { Measurement } from './harness.js'
import { describeInput } from './input.js'

export interface CaseReport extends Measurement {
  case: string
  peak_rss_mib: number
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { work: { type: 'string' }, prepare: { type: 'boolean', default: false } },
  })
  const [name, file] = positionals
  if (!name || !file || !isCaseName(name) || (values.prepare && values.work === undefined)) {
    throw new Error(`usage: case.js <${Object.keys(CASES).join('|')}> <input.log> [--work <dir>] [--prepare] (--prepare needs --work)`)
  }
  const workDir = values.work ?? (await mkdtemp(path.join(os.tmpdir(), 'careplus-bench-')))
  try {
    const bench = (await CASES[name]!.load()).default
    const ctx = { input: describeInput(path.resolve(file)), workDir }
    if (values.prepare) {
      await bench.prepare?.(ctx)
      return
    }
    const m = await bench.run(ctx)
    const report: CaseReport = { case: name, ...m, peak_rss_mib: m.peak_rss_mib ?? process.resourceUsage().maxRSS / 1024 }
    process.stdout.write(JSON.stringify(report) + '\n')
  } finally {
    if (values.work === undefined) await rm(workDir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench case failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
