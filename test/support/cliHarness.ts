import path from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import type { Test } from 'tap'
import { seedTickets } from '../../src/sources/ticketSeeder.js'
import { generateLogs } from '../../src/generate/logGenerator.js'
import { MYSQL, mysqlEnv, testDatabase } from './mysql.js'

/** Driving the compiled CLI and a real daemon from tests (the process helpers are daemonProcess.ts's). */
export { CLI, cli, freePort, until } from './daemonProcess.js'
import { CLI, cli, freePort } from './daemonProcess.js'

export async function status(port: number): Promise<{ runs: Array<{ id: string; state: string; trigger: string; scheduled_for: string | null; started_at: string; ended_at: string | null; tasks: Array<{ name: string; state: string; attempts: number; error_code: string | null }> }> }> {
  const res = await fetch(`http://127.0.0.1:${port}/status`)
  return (await res.json()) as never
}

export async function prepare(t: Test) {
  const { database } = await testDatabase(t)
  await seedTickets({ ...MYSQL, database })
  const home = t.testdir()
  // Enough log data that a run takes a few seconds: time to be caught mid-run.
  await generateLogs({ outDir: path.join(home, 'logs'), events: 60_000, seed: 9 })
  const port = await freePort()
  const env = { ...mysqlEnv(database), CAREPLUS_HOME: path.join(home, '.careplus'), DAEMON_PORT: String(port), LOG_LEVEL: 'info', PIPELINE_RETRY_DELAY_MS: '100' }
  const up = cli(home, env, ['upload-logs', 'logs'])
  if (up.status !== 0) throw new Error(up.stderr)
  return { home, env, port }
}

export function startDaemon(home: string, env: Record<string, string>): { child: ChildProcess; logs: () => string } {
  const child = spawn(process.execPath, [CLI, 'daemon'], { cwd: home, env: { PATH: process.env.PATH, ...env } })
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d))
  return { child, logs: () => out }
}


