/** Plain-text reports of a transform run and of data tests (CLI and job output). */
import type { ModelTiming, TestResult, TransformSummary } from './runTransforms.js'

const n = (x: number): string => x.toLocaleString('en-US')

export function formatModelTimings(models: readonly ModelTiming[]): string {
  if (models.length === 0) return ''
  const width = Math.max(5, ...models.map((m) => m.model.length))
  const lines = [`${'model'.padEnd(width)}  layer   kind   seconds        rows`]
  for (const m of models) {
    const kind = m.rows === undefined ? 'view ' : 'table'
    lines.push(`${m.model.padEnd(width)}  ${m.layer.padEnd(6)}  ${kind}  ${m.seconds.toFixed(3).padStart(7)}  ${(m.rows === undefined ? '-' : n(m.rows)).padStart(10)}`)
  }
  return lines.join('\n') + '\n'
}

export function formatTestSummary(tests: readonly TestResult[]): string {
  const failed = tests.filter((t) => t.failures > 0)
  return `data tests: ${n(tests.length - failed.length)} passed, ${n(failed.length)} failed\n`
}

/** Each failing test with its count and its sample of offending rows (one JSON object a line). */
export function formatTestFailures(tests: readonly TestResult[]): string {
  let out = ''
  for (const t of tests) {
    if (t.failures === 0) continue
    out += `FAIL ${t.model} ${t.test}: ${n(t.failures)} offending row${t.failures === 1 ? '' : 's'}\n`
    for (const row of t.sample) out += `  ${JSON.stringify(row)}\n`
    if (t.sample.length < t.failures) out += `  … ${n(t.failures - t.sample.length)} more\n`
  }
  return out
}

export function formatTransformSummary(s: TransformSummary): string {
  return formatModelTimings(s.models) + formatTestSummary(s.tests) + `total ${s.seconds.toFixed(2)} s\n`
}
