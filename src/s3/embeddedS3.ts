import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { PipelineError } from '../errors.js'
import { builtEntry } from '../builtEntry.js'

export const EMBEDDED_BUCKET = 'careplus'
/** s3rver accepts any key pair; these are its documented defaults. */
export const EMBEDDED_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

export interface EmbeddedS3 {
  endpoint: string
  port: number
  bucket: string
  /** Stops the server process and waits for it to exit; `kill` ends it at once, like a crash. */
  stop(opts?: { kill?: boolean }): Promise<void>
}

/**
 * Starts s3rver over `dir` in a child process (see embeddedS3Server.ts for
 * why it is a separate process) on a free loopback port unless one is given.
 */
export async function startEmbeddedS3(opts: { dir: string; port?: number; bucket?: string; foreground?: boolean }): Promise<EmbeddedS3> {
  const bucket = opts.bucket ?? EMBEDDED_BUCKET
  const args = ['--openssl-legacy-provider', builtEntry('src/s3/embeddedS3Server.ts', 'embedded S3 server'), '--dir', opts.dir, '--port', String(opts.port ?? 0), '--bucket', bucket]
  if (!opts.foreground) args.push('--exit-on-stdin-close')
  const child: ChildProcess = spawn(process.execPath, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    // Its own process group: a terminal's Ctrl-C (SIGINT to the foreground group) reaches only the parent,
    // which stops the server after its work has wound down, not under it.
    detached: true,
    // NODE_OPTIONS from the parent (e.g. a coverage loader) must not leak into the server.
    env: { ...process.env, NODE_OPTIONS: '' },
  })
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d
  })
  // Out of the terminal's group, the server must not outlive its parent: stopped on the parent's exit too
  // (and --exit-on-stdin-close ends it when the parent dies without running this).
  const onParentExit = (): void => void child.kill('SIGTERM')
  process.once('exit', onParentExit)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      process.off('exit', onParentExit)
      resolve()
    }),
  )

  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    lines.once('line', (line) => {
      try {
        resolve((JSON.parse(line) as { port: number }).port)
      } catch {
        reject(new PipelineError('ERR_EMBEDDED_S3', `embedded S3 server printed an unexpected line: ${line}`))
      }
    })
    child.once('exit', (code) =>
      reject(new PipelineError('ERR_EMBEDDED_S3', `embedded S3 server exited (${code}) before listening: ${stderr.trim()}`)),
    )
    child.once('error', (err) => reject(new PipelineError('ERR_EMBEDDED_S3', `cannot start embedded S3 server: ${err.message}`)))
  })

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    bucket,
    async stop(opts) {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill(opts?.kill ? 'SIGKILL' : 'SIGTERM')
      await exited
    },
  }
}
