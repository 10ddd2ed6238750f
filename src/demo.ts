import { existsSync } from 'node:fs'
import path from 'node:path'
import type { Config } from './config.js'
import { generateLogs } from './generate/logGenerator.js'
import { ingestLogs } from './pipelines/ingestLogs.js'
import { uploadLogs } from './pipelines/uploadLogs.js'
import { withRuntime } from './runtime.js'
import { formatIngestLogsSummary } from './cli/summaries.js'
import { printResult } from './cli/output.js'

/**
 * `npm run demo`: the log slice on embedded defaults. Safe to run again: the
 * sample data is regenerated identically, re-uploaded objects keep their
 * ETag, and the ledger skips what is already loaded.
 */
export async function runDemo(cfg: Config, signal: AbortSignal): Promise<void> {
  const out = process.stdout
  const sampleDir = path.join(cfg.home, 'sample', 'logs')
  if (!existsSync(path.join(sampleDir, 'careplus-2025-07-31.log'))) {
    const g = await generateLogs({ outDir: sampleDir, signal })
    out.write(`generated ${g.files.length} log files, ${g.events} events in ${sampleDir}\n`)
  }
  await withRuntime(cfg, async (rt) => {
    const up = await uploadLogs({ store: rt.store, prefix: cfg.S3_LOGS_PREFIX, paths: [sampleDir], concurrency: cfg.INGEST_CONCURRENCY, signal })
    out.write(`uploaded ${up.files} files to ${rt.store.url}/${cfg.S3_LOGS_PREFIX}\n`)
    const summary = await ingestLogs({ ...rt, signal })
    out.write(formatIngestLogsSummary(summary))
    out.write('\nbronze.logs by raw level (dirty values are cleaned in silver):\n')
    await printResult(
      rt.warehouse.stream(
        'SELECT log_level, count(*) AS events FROM bronze.logs GROUP BY log_level ORDER BY events DESC',
      ),
      'table',
      out,
    )
    out.write('\nexplore further, e.g.:\n  npx careplus query "SELECT service, avg(response_time_ms) FROM bronze.logs GROUP BY 1"\n')
  })
}
