/** `careplus s3 serve [--port n]`: the embedded S3 server in the foreground, until SIGINT/SIGTERM. */
import path from 'node:path'
import { EMBEDDED_CREDENTIALS, startEmbeddedS3 } from '../s3/embeddedS3.js'
import type { CommandContext } from './commandContext.js'

export async function s3ServeCommand(o: { port?: number }, ctx: CommandContext): Promise<void> {
  const cfg = ctx.config()
  const server = await startEmbeddedS3({ dir: path.join(cfg.home, 's3'), port: o.port, foreground: true })
  // s3rver accepts any key pair, but the AWS SDK signs nothing without one: the line carries them.
  const settings =
    `S3_BUCKET=${server.bucket} S3_ENDPOINT=${server.endpoint} ` +
    `AWS_ACCESS_KEY_ID=${EMBEDDED_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${EMBEDDED_CREDENTIALS.secretAccessKey}`
  process.stdout.write(
    `embedded S3 listening on ${server.endpoint}, bucket ${server.bucket}, data in ${path.join(cfg.home, 's3')}\n` +
      `  point the pipeline at it from another shell:\n` +
      `    export ${settings}\n` +
      `  other S3 clients: that endpoint and key pair, path-style, region us-east-1\n` +
      `  (e.g. with the AWS CLI, if you have it, in that shell: aws --endpoint-url ${server.endpoint} s3 ls s3://${server.bucket}/ --recursive)\n` +
      `Ctrl-C stops it.\n`,
  )
  await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }))
  await server.stop()
}
