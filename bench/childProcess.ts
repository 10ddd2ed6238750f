/**
 * Measures a separate Node process from the outside, for the cases whose
 * subject is a whole process (the CLI, an idle node): its wall time counted
 * from the spawn, and its own peak RSS. A preloaded module (`rssReporter.js`)
 * writes `process.resourceUsage().maxRSS` to fd 3 as the process exits, so
 * the peak is the kernel's high-water mark, not a sample.
 */
import { spawn } from 'node:child_process'
import { openSync, closeSync } from 'node:fs'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { stopwatch } from './harness.js'

const RSS_REPORTER = fileURLToPath(new URL('./rssReporter.js', import.meta.url))

export interface ProcessMeasurement {
  seconds: number
  peakRssMib: number
  stderr: string
}

/** Runs `node <args>` (stdout to /dev/null) and resolves with its time and peak RSS; rejects when it fails. */
export function runNode(args: string[]): Promise<ProcessMeasurement> {
  const devNull = openSync('/dev/null', 'w')
  return new Promise<ProcessMeasurement>((resolve, reject) => {
    const elapsed = stopwatch()
    const child = spawn(process.execPath, ['--import', RSS_REPORTER, ...args], { stdio: ['ignore', devNull, 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } })
    let stderr = ''
    let rss = ''
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    ;(child.stdio[3] as Readable).setEncoding('utf8').on('data', (d: string) => (rss += d))
    child.once('error', reject)
    child.once('close', (code, signal) => {
      const seconds = elapsed()
      if (code !== 0) return reject(new Error(`node ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`))
      const kib = Number(rss.trim())
      if (!(kib > 0)) return reject(new Error(`node ${args.join(' ')} reported no peak RSS`))
      resolve({ seconds, peakRssMib: kib / 1024, stderr })
    })
  }).finally(() => closeSync(devNull))
}
