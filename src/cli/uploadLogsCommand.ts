/** `careplus upload-logs <paths...>`: local .log/.log.gz files (or folders of them) to the logs prefix. */
import { uploadLogs } from '../pipelines/uploadLogs.js'
import { withRuntime } from '../runtime.js'
import type { CommandContext } from './commandContext.js'
import { byteProgress } from './progress.js'

export async function uploadLogsCommand(paths: string[], ctx: CommandContext): Promise<void> {
  const cfg = ctx.config()
  await withRuntime(
    cfg,
    async ({ store }) => {
      const bar = byteProgress('upload')
      const r = await uploadLogs({ store, prefix: cfg.S3_LOGS_PREFIX, paths, concurrency: cfg.INGEST_CONCURRENCY, signal: ctx.signal, onProgress: (b) => bar.add(b) })
      bar.stop()
      process.stdout.write(`uploaded ${r.files} files, ${(r.bytes / 1e6).toFixed(2)} MB to ${store.url}/${cfg.S3_LOGS_PREFIX} in ${r.seconds.toFixed(2)} s\n`)
    },
    { warehouse: false },
  )
}
