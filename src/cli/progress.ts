import cliProgress from 'cli-progress'

/** A byte progress bar on stderr when it is a terminal; a no-op otherwise (logs and CI stay clean). */
export function byteProgress(label: string, unit: 'bytes' | 'rows' = 'bytes'): { start(total: number): void; add(n: number): void; stop(): void } {
  if (!process.stderr.isTTY) return { start() {}, add() {}, stop() {} }
  const format =
    unit === 'rows'
      ? `${label} {value} rows | {rate} rows/s`
      : `${label} [{bar}] {percentage}% | {value_mb}/{total_mb} MB | {speed} MB/s | eta {eta}s`
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  )
  const started = performance.now()
  let value = 0
  let total = 0
  const payload = (): Record<string, string> => ({
    value_mb: (value / 1e6).toFixed(1),
    total_mb: (total / 1e6).toFixed(1),
    speed: (value / 1e6 / Math.max(1e-3, (performance.now() - started) / 1000)).toFixed(1),
    rate: Math.round(value / Math.max(1e-3, (performance.now() - started) / 1000)).toLocaleString('en-US'),
  })
  return {
    start(t) {
      total = t
      bar.start(t, 0, payload())
    },
    add(n) {
      value += n
      bar.update(value, payload())
    },
    stop() {
      bar.stop()
    },
  }
}
