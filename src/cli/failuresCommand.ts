import { Option, type Command } from 'commander'
import type { CommandContext } from './commandContext.js'

/** The exit code of a run that loaded what it could but quarantined objects (`success_with_failures`). */
export const EXIT_WITH_FAILURES = 3

/**
 * `careplus failures`: the quarantined source objects, with why, how often
 * and since when; they load again when their ETag changes, or with
 * `careplus ingest-logs --retry-failed`.
 */
export function registerFailuresCommand(program: Command, ctx: Pick<CommandContext, 'config'>): void {
  program
    .command('failures')
    .description('the quarantined source objects (not loaded: unreadable), with their reasons; they load again when they change, or with ingest-logs --retry-failed')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(async (o: { format: 'table' | 'json' }) => {
      // Loaded when the command runs (see src/cli.ts).
      const [{ default: Table }, { allQuarantined }, { openWarehouse }, { writeOut }] = await Promise.all([
        import('cli-table3'),
        import('../load/loadFailures.js'),
        import('../runtime.js'),
        import('./output.js'),
      ])
      const wh = await openWarehouse(ctx.config(), undefined)
      try {
        await wh.migrate()
        const failures = await allQuarantined(wh)
        if (o.format === 'json') return await writeOut(process.stdout, JSON.stringify({ failures }) + '\n')
        if (failures.length === 0) return await writeOut(process.stdout, 'no quarantined objects\n')
        const table = new Table({ head: ['source', 'object', 'etag', 'code', 'reason', 'attempts', 'first failed', 'last failed', 'last run'], wordWrap: true, colWidths: [9, 32, 12, 24, 48, 10, 21, 21, 25] })
        for (const f of failures) table.push([f.source, f.key, f.etag.slice(0, 10), f.code, f.reason, f.attempts, f.firstFailedAt.slice(0, 19), f.lastFailedAt.slice(0, 19), f.runId])
        await writeOut(process.stdout, `${table.toString()}\n${failures.length} quarantined object${failures.length === 1 ? '' : 's'}: they load again when they change, or with careplus ingest-logs --retry-failed\n`)
      } finally {
        await wh.close()
      }
    })
}
