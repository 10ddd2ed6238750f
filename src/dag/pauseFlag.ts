import { existsSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'

/**
 * A paused schedule is a file, `$CAREPLUS_HOME/paused`, so a restart keeps it
 * and `careplus pause` works the same with or without a daemon. A paused daemon
 * records each scheduled time it skips; manual runs, clears and backfills still run.
 */
export function pauseFile(home: string): string {
  return path.join(home, 'paused')
}

export function isPaused(home: string): boolean {
  return existsSync(pauseFile(home))
}

export function setPaused(home: string, paused: boolean): void {
  if (paused) writeFileSync(pauseFile(home), new Date().toISOString() + '\n')
  else rmSync(pauseFile(home), { force: true })
}
