#!/usr/bin/env node
import './processSetup.js'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Command, InvalidArgumentError, Option } from 'commander'
import type { Config } from './config.js'
import { isAbortError, PipelineError } from './errors.js'
import { projectRoot } from './projectRoot.js'
import type { CommandContext } from './cli/commandContext.js'
import type { GenerateOptions } from './cli/generateCommand.js'
import type { QueryFormat } from './cli/output.js'
import type { ParseOptions } from './cli/parseCommand.js'
import { registerTransformCommands } from './cli/transformCommands.js'
import { registerRunCommands } from './cli/runCommands.js'
import { registerSetupCommands } from './cli/setupCommands.js'
import { registerFailuresCommand } from './cli/failuresCommand.js'
import { errorCode, errorJson, jsonRequested } from './cli/errorReport.js'

/*
 * A registry of commands: each action loads its command's module when it
 * runs (`await import()`), so a command pays only for the modules it uses
 * and `--help` for none (the AWS SDK, DuckDB, snowflake-sdk and Bree cost
 * ~0.5 s to load).
 */

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

/** config.js (zod, dotenv) is loaded before any action runs (the preAction hook below), not for `--help`. */
let configModule: typeof import('./config.js') | undefined
function config(): Config {
  return configModule!.loadConfig()
}
const ctx: CommandContext = { config, signal }

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
  .hook('preAction', async () => {
    configModule ??= await import('./config.js')
  })

const s3 = program.command('s3').description('the embedded S3-compatible server')
s3.command('serve')
  .description('run the embedded S3 server over $CAREPLUS_HOME/s3 in the foreground')
  .option('--port <n>', 'port to listen on (default: a free one)', positiveInt('--port'))
  .action(async (o: { port?: number }) => (await import('./cli/s3ServeCommand.js')).s3ServeCommand(o, ctx))

program
  .command('upload-logs')
  .description('stream local .log/.log.gz files (or folders of them) to s3://$S3_BUCKET/$S3_LOGS_PREFIX')
  .argument('<paths...>', 'files or folders')
  .action(async (paths: string[]) => (await import('./cli/uploadLogsCommand.js')).uploadLogsCommand(paths, ctx))

program
  .command('ingest-logs')
  .description('one run of the log ingest: S3 log objects → parser → gzipped CSV stage → bronze.logs')
  .option('--json', 'print the run summary as JSON')
  .option('--retry-failed', 'also try the quarantined objects again (careplus failures lists them), not only those whose ETag changed')
  .action(async (o: { json?: boolean; retryFailed?: boolean }) => (await import('./cli/ingestLogsCommand.js')).ingestLogsCommand(o, ctx))

program
  .command('prune-logs')
  .description('remove the bronze and ledger rows of log objects deleted from S3, in one transaction (never run automatically)')
  .option('--dry-run', 'only print what would be removed')
  .option('--json', 'print the summary as JSON')
  .action(async (o: { dryRun?: boolean; json?: boolean }) => (await import('./cli/pruneLogsCommand.js')).pruneLogsCommand(o, ctx))

program
  .command('ingest-tickets')
  .description('one incremental run of the ticket ingest: MySQL support_tickets → CSV → gzip → stage → bronze.tickets')
  .option('--json', 'print the run summary as JSON')
  .option('--full-refresh', 'read the whole table, not only the TICKETS_LOOKBACK window (unchanged rows are still not loaded again)')
  .action(async (o: { json?: boolean; fullRefresh?: boolean }) => (await import('./cli/ingestTicketsCommand.js')).ingestTicketsCommand(o, ctx))

program
  .command('parse')
  .description('parse a local log file to stdout (CSV with a header, or JSON lines); rejects go to stderr as JSON lines')
  .argument('<file>', 'a .log or .log.gz file')
  .addOption(new Option('--format <format>', 'output format').choices(['csv', 'jsonl']).default('csv'))
  .option('--stats', 'print blocks/rows/rejects and MB/s to stderr at the end')
  .action(async (file: string, o: ParseOptions) => (await import('./cli/parseCommand.js')).parseCommand(file, o, ctx))

program
  .command('query')
  .description('run SQL on the configured warehouse (through the daemon, read-only, while one holds it)')
  .argument('<sql>', 'a SQL statement')
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
  .action(async (sql: string, o: { format: QueryFormat }) => (await import('./cli/queryCommand.js')).queryCommand(sql, o, ctx))

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
  .action(async (o: GenerateOptions) => (await import('./cli/generateCommand.js')).generateCommand(o, ctx))

program
  .command('demo')
  .description('the pipeline on embedded defaults: sample data → S3 → bronze, with a short report')
  .action(async () => (await import('./cli/demoCommand.js')).demoCommand(ctx))

program
  .command('daemon')
  .description('run the DAG on PIPELINE_CRON (default daily 02:00 UTC) with Bree; SIGTERM/SIGINT stop it gracefully')
  .action(async () => (await import('./cli/daemonCommand.js')).daemonCommand(ctx))

program
  .command('status')
  .description("recent runs as a grid of runs by tasks (asks the running daemon, else reads the warehouse)")
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
  .option('--limit <n>', 'runs to show', positiveInt('--limit'), 10)
  .action(async (o: { format: 'table' | 'json'; limit: number }) => (await import('./cli/statusCommand.js')).statusCommand(o, ctx))

registerTransformCommands(program, ctx)
registerRunCommands(program, ctx)
registerFailuresCommand(program, ctx)
registerSetupCommands(program, ctx)

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
    if (e?.code === 'ERR_WAREHOUSE_LOCKED') line = await (await import('./cli/lockedHint.js')).lockedHint(config(), line)
    process.stderr.write(`careplus: ${line}\n`)
    if (wantsJson) process.stdout.write(errorJson(errorCode(e), line))
    if (process.env.LOG_LEVEL === 'debug' && e.stack) process.stderr.write(e.stack + '\n')
    process.exitCode = 1
  }
}

await main()
