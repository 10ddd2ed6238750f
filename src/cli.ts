#!/usr/bin/env node
import './processSetup.js'
import { createReadStream, readFileSync } from 'node:fs'
import path from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { Command, InvalidArgumentError, Option } from 'commander'
import { createBlockParserStream } from '../parsers/blockParserStream.js'
import { LOG_COLUMNS, type ParseBatch } from '../parsers/logRecord.js'
import { csvHeader, encodeCsvBatch } from '../sinks/csvEncoding.js'
import { loadConfig, type Config } from './config.js'
import { isAbortError, PipelineError } from './errors.js'
import { parseByteSize } from './generate/byteSize.js'
import { generateLogs } from './generate/logGenerator.js'
import { createLogger } from './logger.js'
import { ingestLogs } from './pipelines/ingestLogs.js'
import { uploadLogs } from './pipelines/uploadLogs.js'
import { formatPruneSummary, pruneLogs } from './pipelines/pruneLogs.js'
import { startEmbeddedS3, EMBEDDED_CREDENTIALS, projectRoot } from './s3/embeddedS3.js'
import { withRuntime, openWarehouse } from './runtime.js'
import { printResult, type QueryFormat } from './cli/output.js'
import { byteProgress } from './cli/progress.js'
import { formatIngestLogsSummary, formatIngestTicketsSummary } from './cli/summaries.js'
import { ingestTickets } from './pipelines/ingestTickets.js'
import { seedTickets } from './sources/ticketSeeder.js'
import { mysqlSettings } from './sources/mysql.js'
import { runDemo } from './demo.js'
import { daemonStatus, startDaemon } from './daemon.js'
import { PIPELINE_DAG } from './dag/orchestrator.js'
import { recordOneOff } from './dag/oneOffRun.js'
import { throughDaemon } from './cli/oneOffTask.js'
import { lockedHint } from './cli/lockedHint.js'
import { registerQueryCommand } from './cli/queryCommand.js'
import { registerRunCommands } from './cli/runCommands.js'
import type { IngestLogsSummary } from './pipelines/ingestLogs.js'
import type { IngestTicketsSummary } from './pipelines/ingestTickets.js'
import { RunHistory } from './dag/runHistory.js'
import { formatStatusGrid, statusJson } from './cli/statusGrid.js'
import { registerTransformCommands } from './cli/transformCommands.js'
import { registerSetupCommands } from './cli/setupCommands.js'
import { EXIT_WITH_FAILURES, registerFailuresCommand } from './cli/failuresCommand.js'
import { errorCode, errorJson, jsonRequested } from './cli/errorReport.js'
import { checkLocalFile, localInputError } from './cli/localInput.js'

/** One AbortController per command: SIGINT/SIGTERM abort the running pipeline, which tears down cleanly. */
const controller = new AbortController()
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => controller.abort(new PipelineError('ERR_CANCELLED', `cancelled by ${sig}`)))
}
const signal = controller.signal

// Named case: a reader that closes stdout early (`careplus parse big.log | head`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

/** The grid's columns: the DAG's tasks, then any other task a one-off run recorded. */
function gridTasks(runs: Array<{ tasks: Array<{ name: string }> }>): string[] {
  const names = PIPELINE_DAG.map((t) => t.name)
  for (const r of runs) for (const t of r.tasks) if (!names.includes(t.name)) names.push(t.name)
  return names
}

function config(): Config {
  return loadConfig()
}

const positiveInt = (name: string) => (v: string): number => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`)
  return n
}

const wantsJson = jsonRequested(process.argv.slice(2))
const { version } = JSON.parse(readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version: string }

const program = new Command()
program
  .name('careplus')
  .description('CarePlus streaming ELT: S3 logs and MySQL tickets → S3 stage → bronze → silver → gold')
  .version(version, '-V, --version', 'print the version')
  .showHelpAfterError()
  // Before any command is added: subcommands copy the output settings when created.
  .configureOutput({
    outputError: (str, write) => {
      write(str)
      // Commander's usage errors (an unknown option, a bad --limit) never reach main().
      if (wantsJson) process.stdout.write(errorJson('ERR_USAGE', str.trim().replace(/^error: /, '')))
    },
  })

const s3 = program.command('s3').description('the embedded S3-compatible server')
s3.command('serve')
  .description('run the embedded S3 server over $CAREPLUS_HOME/s3 in the foreground')
  .option('--port <n>', 'port to listen on (default: a free one)', positiveInt('--port'))
  .action(async (o: { port?: number }) => {
    const cfg = config()
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
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
    await server.stop()
  })

program
  .command('upload-logs')
  .description('stream local .log/.log.gz files (or folders of them) to s3://$S3_BUCKET/$S3_LOGS_PREFIX')
  .argument('<paths...>', 'files or folders')
  .action(async (paths: string[]) => {
    const cfg = config()
    await withRuntime(
      cfg,
      async ({ store }) => {
        const bar = byteProgress('upload')
        const r = await uploadLogs({ store, prefix: cfg.S3_LOGS_PREFIX, paths, concurrency: cfg.INGEST_CONCURRENCY, signal, onProgress: (b) => bar.add(b) })
        bar.stop()
        process.stdout.write(
          `uploaded ${r.files} files, ${(r.bytes / 1e6).toFixed(2)} MB to ${store.url}/${cfg.S3_LOGS_PREFIX} in ${r.seconds.toFixed(2)} s\n`,
        )
      },
      { warehouse: false },
    )
  })

program
  .command('ingest-logs')
  .description('one run of the log ingest: S3 log objects → parser → gzipped CSV stage → bronze.logs')
  .option('--json', 'print the run summary as JSON')
  .option('--retry-failed', 'also try the quarantined objects again (careplus failures lists them), not only those whose ETag changed')
  .action(async (o: { json?: boolean; retryFailed?: boolean }) => {
    const cfg = config()
    const logger = createLogger(cfg.LOG_LEVEL)
    const remote = await throughDaemon(cfg, ['ingest-logs'], { args: o.retryFailed ? { 'ingest-logs': { retryFailed: true } } : undefined, signal })
    const summary = remote ? (remote.results['ingest-logs'] as IngestLogsSummary) : await withRuntime(cfg, (rt) => recordOneOff({ warehouse: rt.warehouse, home: cfg.home, task: 'ingest-logs' }, async () => {
      const bar = byteProgress('ingest-logs')
      try {
        return await ingestLogs({
          ...rt,
          signal,
          retryFailed: o.retryFailed,
          onProgress: (p) => {
            if (p.type === 'plan') bar.start(p.bytes)
            else if (p.type === 'bytes') bar.add(p.bytes)
            else logger.debug({ key: p.key, rows: p.rows, rejects: p.rejects }, 'object loaded')
          },
        })
      } finally {
        bar.stop()
      }
    }))
    process.stdout.write(o.json ? JSON.stringify(summary) + '\n' : formatIngestLogsSummary(summary))
    // success_with_failures: everything else loaded, but objects were quarantined.
    if (summary.failures.length > 0) process.exitCode = EXIT_WITH_FAILURES
  })

program
  .command('prune-logs')
  .description('remove the bronze and ledger rows of log objects deleted from S3, in one transaction (never run automatically)')
  .option('--dry-run', 'only print what would be removed')
  .option('--json', 'print the summary as JSON')
  .action(async (o: { dryRun?: boolean; json?: boolean }) => {
    const cfg = config()
    const summary = await withRuntime(cfg, (rt) => pruneLogs({ ...rt, dryRun: o.dryRun === true, signal }))
    process.stdout.write(o.json ? JSON.stringify(summary) + '\n' : formatPruneSummary(summary))
  })

program
  .command('ingest-tickets')
  .description('one incremental run of the ticket ingest: MySQL support_tickets → CSV → gzip → stage → bronze.tickets')
  .option('--json', 'print the run summary as JSON')
  .action(async (o: { json?: boolean }) => {
    const cfg = config()
    const remote = await throughDaemon(cfg, ['ingest-tickets'], { signal })
    const summary = remote ? (remote.results['ingest-tickets'] as IngestTicketsSummary) : await withRuntime(cfg, (rt) => recordOneOff({ warehouse: rt.warehouse, home: cfg.home, task: 'ingest-tickets' }, async () => {
      const bar = byteProgress('ingest-tickets', 'rows')
      bar.start(0)
      try {
        return await ingestTickets({ ...rt, signal, onProgress: (p) => bar.add(p.rows) })
      } finally {
        bar.stop()
      }
    }))
    process.stdout.write(o.json ? JSON.stringify(summary) + '\n' : formatIngestTicketsSummary(summary))
  })

program
  .command('parse')
  .description('parse a local log file to stdout (CSV with a header, or JSON lines); rejects go to stderr as JSON lines')
  .argument('<file>', 'a .log or .log.gz file')
  .addOption(new Option('--format <format>', 'output format').choices(['csv', 'jsonl']).default('csv'))
  .option('--stats', 'print blocks/rows/rejects and MB/s to stderr at the end')
  .action(async (file: string, o: { format: 'csv' | 'jsonl'; stats?: boolean }) => {
    const cfg = config()
    checkLocalFile(file, 'parse reads one .log or .log.gz file (to load a folder: careplus upload-logs <dir>, then careplus ingest-logs)')
    const started = performance.now()
    const parser = createBlockParserStream({ sourceFile: file, maxBlockBytes: cfg.MAX_BLOCK_BYTES })
    let headerDone = false
    const encode = new Transform({
      writableObjectMode: true,
      transform(batch: ParseBatch, _enc, cb) {
        for (const r of batch.rejects) process.stderr.write(JSON.stringify(r) + '\n')
        let text = ''
        if (o.format === 'csv') {
          if (!headerDone) text = csvHeader(LOG_COLUMNS)
          headerDone = true
          text += encodeCsvBatch(batch.rows, LOG_COLUMNS)
        } else {
          for (const r of batch.rows) text += JSON.stringify(r) + '\n'
        }
        cb(null, text)
      },
      flush(cb) {
        cb(null, o.format === 'csv' && !headerDone ? csvHeader(LOG_COLUMNS) : '')
      },
    })
    const source = createReadStream(file, { highWaterMark: 256 * 1024 })
    try {
      if (file.endsWith('.gz')) await pipeline(source, createGunzip(), parser, encode, process.stdout, { signal, end: false })
      else await pipeline(source, parser, encode, process.stdout, { signal, end: false })
    } catch (err) {
      throw localInputError(file, err)
    }
    if (o.stats) {
      const s = parser.stats
      const secs = (performance.now() - started) / 1000
      process.stderr.write(
        `blocks ${s.blocks} = rows ${s.rows} + rejects ${s.rejects}; ${(s.bytes / 1e6).toFixed(1)} MB in ${secs.toFixed(2)} s = ${(s.bytes / 1e6 / secs).toFixed(1)} MB/s\n`,
      )
    }
  })

program
  .command('generate')
  .description('deterministic sample data shaped like the seed: log files (--out) and/or tickets in MySQL (--tickets)')
  .option('--out <dir>', 'write log files here (31 daily files of July 2025)')
  .option('--days <n>', 'daily log files', positiveInt('--days'), 31)
  .option('--events <n>', 'total log events, duplicates included', positiveInt('--events'), 2650)
  .option('--seed <n>', 'random seed', (v) => Number.parseInt(v, 10), 42)
  .option('--size <size>', 'scale the logs to about this many bytes (e.g. 300MB, 1GB)')
  .option('--tickets', 'create $MYSQL_DATABASE.support_tickets when missing and insert the sample tickets')
  .option('--count <n>', 'tickets to generate', positiveInt('--count'), 810)
  .action(async (o: { out?: string; days: number; events: number; seed: number; size?: string; tickets?: boolean; count: number }) => {
    if (!o.out && !o.tickets) throw new InvalidArgumentError('say what to generate: --out <dir> for logs, --tickets for MySQL tickets, or both')
    if (o.out) {
      const sizeBytes = o.size === undefined ? undefined : parseByteSize(o.size)
      const bar = byteProgress('generate')
      if (sizeBytes) bar.start(sizeBytes)
      let last = 0
      const r = await generateLogs({
        outDir: o.out,
        days: o.days,
        events: o.events,
        seed: o.seed,
        sizeBytes,
        signal,
        onProgress: (b) => {
          bar.add(b - last)
          last = b
        },
      })
      bar.stop()
      process.stdout.write(`wrote ${r.files.length} files, ${r.events} events, ${(r.bytes / 1e6).toFixed(2)} MB to ${o.out}\n`)
    }
    if (o.tickets) {
      const cfg = config()
      const s = mysqlSettings(cfg)
      const r = await seedTickets({ ...s, database: cfg.MYSQL_DATABASE }, { count: o.count, seed: o.seed, signal })
      process.stdout.write(
        `tickets: ${r.planned} planned, ${r.inserted} inserted (${r.planned - r.inserted} already there) into ${cfg.MYSQL_DATABASE}.support_tickets at ${s.host}:${s.port} in ${r.seconds.toFixed(2)} s\n`,
      )
    }
  })

program
  .command('demo')
  .description('the pipeline on embedded defaults: sample data → S3 → bronze, with a short report')
  .action(async () => {
    const cfg = config()
    await runDemo(cfg, signal, createLogger(cfg.LOG_LEVEL))
  })

program
  .command('daemon')
  .description('run the DAG on PIPELINE_CRON (default daily 02:00 UTC) with Bree; SIGTERM/SIGINT stop it gracefully')
  .action(async () => {
    const cfg = config()
    const logger = createLogger(cfg.LOG_LEVEL)
    const daemon = await startDaemon({ cfg, env: process.env, logger })
    process.stdout.write(`careplus daemon: schedule "${cfg.PIPELINE_CRON}" ${cfg.PIPELINE_TZ}; http://${cfg.DAEMON_HOST}:${daemon.port}/healthz /metrics /status\n`)
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
    await daemon.stop()
    logger.info('daemon stopped')
  })

program
  .command('status')
  .description("recent runs as a grid of runs by tasks (asks the running daemon, else reads the warehouse)")
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
  .option('--limit <n>', 'runs to show', positiveInt('--limit'), 10)
  .action(async (o: { format: 'table' | 'json'; limit: number }) => {
    const cfg = config()
    let runs = (await daemonStatus(cfg, o.limit))?.runs
    if (!runs) {
      const wh = await openWarehouse(cfg, undefined)
      try {
        await wh.migrate()
        runs = await new RunHistory(wh).recent(o.limit)
      } finally {
        await wh.close()
      }
    }
    process.stdout.write(o.format === 'json' ? statusJson(runs, cfg.home) : formatStatusGrid(runs, gridTasks(runs)))
  })

registerTransformCommands(program, { config, signal })
registerQueryCommand(program, { config, signal })
registerRunCommands(program, { config, signal })
registerFailuresCommand(program, { config })
registerSetupCommands(program, { config, signal })

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv)
  } catch (err) {
    if (signal.aborted && (isAbortError(err) || err === signal.reason)) {
      const reason = signal.reason as PipelineError
      process.stderr.write(`careplus: ${reason.message}\n`)
      if (wantsJson) process.stdout.write(errorJson(reason.code, reason.message))
      process.exitCode = 130
      return
    }
    const e = err as Error & { code?: string }
    let line = String(e?.message ?? e).split('\n')[0]!
    if (e?.code === 'ERR_WAREHOUSE_LOCKED') line = await lockedHint(config(), line)
    process.stderr.write(`careplus: ${line}\n`)
    if (wantsJson) process.stdout.write(errorJson(errorCode(e), line))
    if (process.env.LOG_LEVEL === 'debug' && e.stack) process.stderr.write(e.stack + '\n')
    process.exitCode = 1
  }
}

await main()
