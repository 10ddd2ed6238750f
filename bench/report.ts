/** The results of one run of the suite: rows, the performance targets, and their renderings. */
import Table from 'cli-table3'
import type { Machine } from './machine.js'

export interface CaseResult {
  name: string
  bytes: number
  events: number
  seconds: number
  mb_per_s: number
  events_per_s: number
  peak_rss_mib: number
  /** Compressed MB staged, for the cases that stage through gzip (else null). */
  staged_mb: number | null
  /** Peak RSS of the ingest's warehouse process (DuckDB), for the cases that have one (else null). */
  warehouse_peak_rss_mib: number | null
}

export interface BenchResults {
  machine: Machine
  cases: CaseResult[]
}

export interface Target {
  goal: string
  actual: string
  holds: boolean
}

const BASELINE = 'split2-lines'

const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits

export function caseResult(
  name: string,
  m: { bytes: number; events: number; seconds: number; peak_rss_mib: number; staged_bytes?: number; warehouse_peak_rss_mib?: number },
): CaseResult {
  return {
    name,
    bytes: m.bytes,
    events: m.events,
    seconds: round(m.seconds, 3),
    mb_per_s: round(m.bytes / 1e6 / m.seconds, 1),
    events_per_s: Math.round(m.events / m.seconds),
    peak_rss_mib: round(m.peak_rss_mib, 1),
    staged_mb: m.staged_bytes === undefined ? null : round(m.staged_bytes / 1e6, 2),
    warehouse_peak_rss_mib: m.warehouse_peak_rss_mib === undefined ? null : round(m.warehouse_peak_rss_mib, 1),
  }
}

function ratioToBaseline(r: BenchResults, c: CaseResult): string {
  const base = r.cases.find((x) => x.name === BASELINE)
  return base && c.bytes > 0 ? `${(c.mb_per_s / base.mb_per_s).toFixed(2)}×` : ''
}

/** The targets, as ratios within this run; a target whose cases did not run is left out. */
export function checkTargets(r: BenchResults): Target[] {
  const get = (name: string) => r.cases.find((c) => c.name === name)
  const out: Target[] = []
  const split = get(BASELINE)
  const parse = get('parse')
  const csv = get('parse-csv')
  const gzip = get('parse-csv-gzip')
  const e2e = get('stage-e2e')
  const e2e10 = get('stage-e2e-10x')
  const idle = get('node-idle')
  const cliParse = get('cli-parse')
  const startup = get('cli-startup')
  // Issue 15's targets, each a ratio within the run.
  const ratio = (goal: string, a: CaseResult | undefined, b: CaseResult | undefined, min: number): void => {
    if (!a || !b) return
    const x = a.mb_per_s / b.mb_per_s
    out.push({ goal: `${goal} ≥ ${min.toFixed(2)}× ${b.name} (MB/s)`, actual: `${x.toFixed(2)}×`, holds: x >= min })
  }
  ratio('parse', parse, split, 2)
  ratio('parse-csv', csv, parse, 0.85)
  ratio('parse-csv-gzip', gzip, parse, 0.5)
  // `careplus parse` within 15 % of the bench's chain, counted from its process's start.
  ratio('cli-parse', cliParse, csv, 0.85)
  if (startup) out.push({ goal: 'cli-startup < 150 ms', actual: `${(startup.seconds * 1000).toFixed(0)} ms`, holds: startup.seconds < 0.15 })
  if (e2e) out.push({ goal: 'stage-e2e ≥ 90 MB/s', actual: `${e2e.mb_per_s.toFixed(1)} MB/s`, holds: e2e.mb_per_s >= 90 })
  // Memory: the ingest's peak above an idle node's, measured in the same run.
  if (idle) {
    const above = (c: CaseResult): number => c.peak_rss_mib - idle.peak_rss_mib
    for (const c of [e2e, e2e10]) {
      if (c) out.push({ goal: `${c.name} peak RSS − node-idle ≤ 120 MiB`, actual: `${above(c).toFixed(1)} MiB`, holds: above(c) <= 120 })
    }
    if (e2e && e2e10) {
      const growth = above(e2e10) / above(e2e) - 1
      out.push({
        goal: 'stage-e2e-10x peak RSS − node-idle within 10 % of stage-e2e',
        actual: `${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %`,
        holds: Math.abs(growth) <= 0.1,
      })
    }
  }
  return out
}

const HEAD = ['case', 'MB/s', 'events/s', 'peak RSS (MiB)', 'warehouse peak RSS (MiB)', `× ${BASELINE}`, 'seconds', 'staged MB']

function row(r: BenchResults, c: CaseResult): string[] {
  return [
    c.name,
    // The process cases that read nothing (node-idle, cli-startup) have no rate.
    c.bytes > 0 ? c.mb_per_s.toFixed(1) : '',
    c.bytes > 0 ? c.events_per_s.toLocaleString('en-US') : '',
    c.peak_rss_mib.toFixed(1),
    c.warehouse_peak_rss_mib === null ? '' : c.warehouse_peak_rss_mib.toFixed(1),
    ratioToBaseline(r, c),
    c.seconds.toFixed(2),
    c.staged_mb === null ? '' : c.staged_mb.toFixed(2),
  ]
}

function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, Node ${m.node}, ${m.os}`
}

export function formatTable(r: BenchResults): string {
  const table = new Table({ head: HEAD, style: { head: [], border: [] }, colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'] })
  for (const c of r.cases) table.push(row(r, c))
  const targets = checkTargets(r).map((t) => `${t.holds ? 'ok  ' : 'MISS'} ${t.goal}: ${t.actual}`)
  return [machineLine(r.machine), table.toString(), ...targets, ''].join('\n')
}

export function formatMarkdown(r: BenchResults, notes: { date: string; command: string; input: string; method: string }): string {
  const lines = [
    `# Benchmark, ${notes.date}`,
    '',
    `- Machine: ${machineLine(r.machine)}`,
    `- Command: \`${notes.command}\``,
    `- Input: ${notes.input}`,
    `- Method: ${notes.method}`,
    '',
    `| ${HEAD.join(' | ')} |`,
    `|${HEAD.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...r.cases.map((c) => `| ${row(r, c).join(' | ')} |`),
    '',
  ]
  const targets = checkTargets(r)
  if (targets.length > 0) {
    lines.push('| target | this run | holds |', '| --- | ---: | :---: |')
    for (const t of targets) lines.push(`| ${t.goal} | ${t.actual} | ${t.holds ? 'yes' : '**no**'} |`)
    lines.push('')
  }
  return lines.join('\n')
}
