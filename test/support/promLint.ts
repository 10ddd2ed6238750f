/**
 * The naming rules `promtool check metrics` applies (Prometheus' promlint),
 * for CI machines without promtool: every family has HELP and TYPE; counters
 * end in _total and nothing else does; names and labels are snake_case, in
 * base units, without their type in the name; the histogram/summary suffixes
 * and labels are left to those types. Returns one line per problem.
 */
export function lintMetrics(text: string): string[] {
  const problems: string[] = []
  const help = new Map<string, string>()
  const type = new Map<string, string>()
  const samples: Array<{ name: string; labels: string[] }> = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const meta = /^# (HELP|TYPE) ([^ ]+) ?(.*)$/.exec(line)
    if (meta) {
      ;(meta[1] === 'HELP' ? help : type).set(meta[2]!, meta[3]!.trim())
      continue
    }
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? [^ ]+( [0-9]+)?$/.exec(line)
    if (!m) {
      problems.push(`unparsable sample line: ${line}`)
      continue
    }
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)].map((x) => x[1]!)
    samples.push({ name: m[1]!, labels })
  }
  const families = new Set([...help.keys(), ...type.keys()])
  for (const name of families) {
    const t = type.get(name)
    if (!help.get(name)) problems.push(`${name}: no help text`)
    if (!t) problems.push(`${name}: no TYPE`)
    if (t === 'counter' && !name.endsWith('_total')) problems.push(`${name}: counter metrics should have "_total" suffix`)
    if (t !== 'counter' && name.endsWith('_total')) problems.push(`${name}: non-counter metrics should not have "_total" suffix`)
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) problems.push(`${name}: metric names should be snake_case without reserved characters`)
    const unit = /_(milliseconds|microseconds|nanoseconds|minutes|hours|days|kilobytes|megabytes|gigabytes|bits|percent|ms|us|ns|sec|secs|kb|mb|gb)(_|$)/.exec(name)
    if (unit) problems.push(`${name}: use base units (seconds, bytes, ratios), not "${unit[1]}"`)
    const typeName = /_(gauge|counter|histogram|summary)(_|$)/.exec(name)
    if (typeName) problems.push(`${name}: metric name should not include type '${typeName[1]}'`)
  }
  for (const s of samples) {
    const family = [s.name, s.name.replace(/_(bucket|sum|count)$/, '')].find((n) => families.has(n))
    if (!family) {
      problems.push(`${s.name}: sample without HELP/TYPE`)
      continue
    }
    const t = type.get(family)
    if (s.name !== family && t !== 'histogram' && t !== 'summary') problems.push(`${s.name}: suffix reserved for histograms and summaries`)
    if (s.name.endsWith('_bucket') && s.name !== family && t !== 'histogram') problems.push(`${s.name}: _bucket is for histograms`)
    if (s.labels.includes('le') && t !== 'histogram') problems.push(`${s.name}: label "le" is for histograms`)
    if (s.labels.includes('quantile') && t !== 'summary') problems.push(`${s.name}: label "quantile" is for summaries`)
    for (const l of s.labels) if (!/^[a-z_][a-z0-9_]*$/.test(l)) problems.push(`${s.name}: label ${l} should be snake_case`)
  }
  return [...new Set(problems)]
}
