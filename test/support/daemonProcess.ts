import path from 'node:path'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

export const ROOT = path.resolve(import.meta.dirname, '../..')
export const CLI = path.join(ROOT, 'dist/src/cli.js')

export async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const port = (srv.address() as { port: number }).port
  srv.close()
  await once(srv, 'close')
  return port
}

/** The compiled CLI (or another script under the project) in `cwd`, with only PATH and `env`. */
export function cli(cwd: string, env: Record<string, string>, args: string[], script = CLI) {
  return spawnSync(process.execPath, [script, ...args], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 180_000, maxBuffer: 64 * 1024 * 1024 })
}

export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

export interface DaemonProcess {
  child: ChildProcess
  logs: () => string
  stop: () => Promise<number | null>
}

/** `careplus daemon`, ready once /healthz answers. */
export async function startDaemon(cwd: string, env: Record<string, string>, port: number): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [CLI, 'daemon'], { cwd, env: { PATH: process.env.PATH, ...env } })
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d))
  const exited = once(child, 'exit')
  await until('the daemon to answer /healthz', async () => {
    if (child.exitCode !== null) throw new Error(`the daemon exited: ${out}`)
    const res = await fetch(`http://127.0.0.1:${port}/healthz`)
    return res.ok ? true : undefined
  })
  return {
    child,
    logs: () => out,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode
      child.kill('SIGTERM')
      const [code] = (await exited) as [number | null]
      return code
    },
  }
}

export function token(home: string): string {
  return readFileSync(path.join(home, 'daemon.token'), 'utf8').trim()
}

export interface StatusRun {
  id: string
  state: string
  trigger: string
  scheduled_for: string | null
  error: string | null
  tasks: Array<{ name: string; state: string; attempts: number; rows: number | null; log?: string | null }>
}

export function statusOf(cwd: string, env: Record<string, string>, limit = 50): StatusRun[] {
  const r = cli(cwd, env, ['status', '--format', 'json', '--limit', String(limit)])
  if (r.status !== 0) throw new Error(r.stderr)
  return (JSON.parse(r.stdout) as { runs: StatusRun[] }).runs
}
