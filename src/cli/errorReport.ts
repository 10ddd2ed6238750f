/**
 * How a failed command reports itself: always one `careplus: …` line on
 * stderr; and when the command line asked for JSON output (`--json`, or
 * `--format json`), also `{"error":{"code":…,"message":…}}` on stdout, so a
 * script reading stdout gets a document it can parse, not silence.
 */

/** True when the arguments ask for JSON output. Reads the raw argv so usage errors (before any action runs) are covered too. */
export function jsonRequested(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') return false
    if (a === '--json' || a === '--format=json' || (a === '--format' && argv[i + 1] === 'json')) return true
  }
  return false
}

/**
 * The error's stable code: a PipelineError's (or InvalidSizeError's) own, a
 * Node system error's (`ENOENT`, …), `ERR_USAGE` for commander's argument
 * errors, and `ERR_INTERNAL` for an error without one (a bug).
 */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || code === '') return 'ERR_INTERNAL'
  return code.startsWith('commander.') ? 'ERR_USAGE' : code
}

export function errorJson(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } }) + '\n'
}
