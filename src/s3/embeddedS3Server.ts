/**
 * Child-process entry of the embedded S3 server. Runs s3rver over a
 * directory and prints one JSON line `{"port":N}` on stdout once listening.
 *
 * It must be started with `node --openssl-legacy-provider`: s3rver's list
 * continuation tokens use DES, which OpenSSL 3 only offers in its legacy
 * provider. Keeping it in its own process confines that flag here; the
 * pipeline process never runs with it.
 *
 * It exits when its stdin closes, so it never outlives the command that
 * started it, even when that command is killed.
 */
import { mkdirSync } from 'node:fs'
import S3rver from 's3rver'

/** How long a stopping server lets requests in flight finish. */
const STOP_GRACE_MS = 1000

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

async function main(): Promise<void> {
  const directory = arg('--dir')
  if (!directory) throw new Error('--dir is required')
  const port = Number(arg('--port') ?? 0)
  const address = arg('--address') ?? '127.0.0.1'
  const bucket = arg('--bucket') ?? 'careplus'
  mkdirSync(directory, { recursive: true })
  const server = new S3rver({
    address,
    port,
    directory,
    silent: true,
    // Path-style URLs only: vhost parsing would treat 127.0.0.1 as a bucket host.
    vhostBuckets: false,
    configureBuckets: [{ name: bucket, configs: [] }],
  })
  const bound = (await server.run()) as { port: number; address: string }
  process.stdout.write(JSON.stringify({ port: bound.port, address: bound.address, bucket }) + '\n')
  let closing = false
  const stop = (): void => {
    if (closing) return
    closing = true
    // server.close() waits for every open connection, and a client that keeps
    // one (keep-alive, or a paused body it never reads) would keep the server
    // alive for ever: let requests in flight finish for a moment, then exit.
    setTimeout(() => process.exit(0), STOP_GRACE_MS).unref()
    server.close().then(
      () => process.exit(0),
      () => process.exit(0),
    )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  if (process.argv.includes('--exit-on-stdin-close')) {
    process.stdin.on('end', stop)
    process.stdin.on('error', stop)
    process.stdin.resume()
  }
}

main().catch((err: Error) => {
  process.stderr.write(`embedded S3 server failed to start: ${err.message}\n`)
  process.exit(1)
})
