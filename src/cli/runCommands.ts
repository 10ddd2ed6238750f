import { existsSync, readFileSync } from 'node:fs'
import type { Command } from 'commander'
import type { Config } from '../config.js'
import { PipelineError } from '../errors.js'
import type { Orchestrator } from '../dag/orchestrator.js'
import { PIPELINE_DAG } from '../dag/pipelineDag.js'
import type { RunRecord } from '../dag/runHistory.js'
import type { DaemonClient } from './daemonClient.js'

// The actions load what they use when they run, so `--help` loads none of it (see src/cli.ts).
const writeOut: typeof import('./output.js').writeOut = async (...a) => (await import('./output.js')).writeOut(...a)
const findDaemon = async (cfg: Config): Promise<DaemonClient | undefined> => (await import('./daemonClient.js')).DaemonClient.find(cfg)
const backfill = () => import('../dag/backfill.js')
const pauseFlag = () => import('../dag/pauseFlag.js')
const taskLog = () => import('../dag/taskLog.js')

interface Ctx {
  config: () => Config
  signal: AbortSignal
}

const TASKS = PIPELINE_DAG.map((t) => t.name)

/** The DAG in this process, as `careplus run` has always done it when no daemon holds the warehouse. */
async function withLocalOrchestrator<T>(cfg: Config, signal: AbortSignal, fn: (o: Orchestrator) => Promise<T>): Promise<T> {
  const [{ createLogger }, { withRuntime }, { Orchestrator }] = await Promise.all([import('../logger.js'), import('../runtime.js'), import('../dag/orchestrator.js')])
  const logger = createLogger(cfg.LOG_LEVEL)
  return withRuntime(cfg, async (rt) => {
    await rt.warehouse.migrate()
    const orchestrator = new Orchestrator({ ...rt, env: process.env, logger })
    const onAbort = (): void => void orchestrator.stop(cfg.PIPELINE_GRACE_MS, (signal.reason as Error).message)
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      return await fn(orchestrator)
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  })
}

/** Prints the run and sets the exit code: 0 success, 3 success with quarantined objects, 1 otherwise. */
async function report(run: RunRecord, signal?: AbortSignal): Promise<void> {
  const [{ formatStatusGrid }, { runExitCode }] = await Promise.all([import('./statusGrid.js'), import('../dag/orchestrator.js')])
  await writeOut(process.stdout, formatStatusGrid([run], TASKS))
  // Cancelled by Ctrl-C/SIGTERM: the signal's reason, which exits 130 like any cancelled command.
  if (run.state === 'cancelled' && signal?.aborted) throw signal.reason
  const code = runExitCode(run)
  if (code === 1) throw new PipelineError('ERR_RUN_FAILED', `run ${run.id} ${run.state}${run.error ? `: ${run.error}` : ''} (careplus logs ${run.id})`)
  if (code === 3) process.stderr.write(`run ${run.id} succeeded with quarantined objects (careplus failures lists them)\n`)
  process.exitCode = code
}

/**
 * `run`, `clear`, `pause`/`unpause`, `backfill` and `logs`: through the
 * control API while a daemon holds the warehouse, in this process otherwise.
 */
export function registerRunCommands(program: Command, ctx: Ctx): void {
  program
    .command('run')
    .description('run the DAG now: through the daemon when one runs (--wait to wait for it), else in the foreground; exit 0 success, 3 success with quarantined objects, 1 failed')
    .option('--logical-date <date>', 'the schedule time the run is for (YYYY-MM-DD or an ISO timestamp), recorded as its scheduled time')
    .option('--wait', 'with a daemon: wait for the run to end and exit with its outcome (without one, run always waits)')
    .action(async (o: { logicalDate?: string; wait?: boolean }) => {
      const cfg = ctx.config()
      const { parseLogicalDate } = await backfill()
      const logical = o.logicalDate === undefined ? null : parseLogicalDate(o.logicalDate, '--logical-date')
      const daemon = await findDaemon(cfg)
      if (daemon) {
        const runId = await daemon.startRun({ logicalDate: logical?.toISOString(), trigger: 'manual' }, { signal: ctx.signal })
        if (!o.wait) {
          await writeOut(process.stdout, `run ${runId} started by the daemon (careplus status; careplus logs ${runId}; --wait waits for it)\n`)
          return
        }
        const r = await daemon.waitRun(runId, ctx.signal)
        return report(r.run)
      }
      await withLocalOrchestrator(cfg, ctx.signal, async (orchestrator) => {
        const started = orchestrator.begin('manual', logical)!
        const run = await started.done
        await report(run, ctx.signal)
      })
    })

  program
    .command('clear')
    .description("run a task of a finished run again, with everything downstream of it, recorded in the same run (Airflow's clear)")
    .argument('<run>', 'the run id (careplus status)')
    .argument('<task>', `the task: ${TASKS.join(', ')}`)
    .action(async (runId: string, task: string) => {
      const cfg = ctx.config()
      const daemon = await findDaemon(cfg)
      if (daemon) {
        await daemon.call('POST', `/runs/${encodeURIComponent(runId)}/clear`, { task }, ctx.signal)
        const r = await daemon.waitRun(runId, ctx.signal)
        return report(r.run)
      }
      await withLocalOrchestrator(cfg, ctx.signal, async (orchestrator) => {
        const run = await (await orchestrator.clear(runId, task)).done
        await report(run, ctx.signal)
      })
    })

  for (const what of ['pause', 'unpause'] as const) {
    program
      .command(what)
      .description(what === 'pause' ? 'pause the schedule: the daemon skips (and records) scheduled runs until unpause; kept across restarts' : 'resume the schedule')
      .action(async () => {
        const cfg = ctx.config()
        const daemon = await findDaemon(cfg)
        const { isPaused, setPaused } = await pauseFlag()
        const paused = daemon ? (await daemon.call<{ paused: boolean }>('POST', `/${what}`, {}, ctx.signal)).paused : (setPaused(cfg.home, what === 'pause'), isPaused(cfg.home))
        await writeOut(process.stdout, paused ? 'the schedule is paused: scheduled runs are skipped until careplus unpause\n' : 'the schedule is running\n')
      })
  }

  program
    .command('backfill')
    .description('one run per schedule slot (PIPELINE_CRON in PIPELINE_TZ) from --from to --to, one after another, recorded like scheduled runs')
    .requiredOption('--from <date>', 'first day or time (YYYY-MM-DD or an ISO timestamp)')
    .requiredOption('--to <date>', 'last day (all of it) or time, included')
    .action(async (o: { from: string; to: string }) => {
      const cfg = ctx.config()
      const [{ parseLogicalDate, runSlots, scheduleSlots }, { formatStatusGrid }] = await Promise.all([backfill(), import('./statusGrid.js')])
      const from = parseLogicalDate(o.from, '--from')
      const to = parseLogicalDate(o.to, '--to', true)
      const slots = scheduleSlots(cfg.PIPELINE_CRON, cfg.PIPELINE_TZ, from, to)
      if (slots.length === 0) {
        await writeOut(process.stdout, `no slot of "${cfg.PIPELINE_CRON}" (${cfg.PIPELINE_TZ}) between ${from.toISOString()} and ${to.toISOString()}\n`)
        return
      }
      process.stderr.write(`backfill: ${slots.length} run${slots.length === 1 ? '' : 's'}, ${slots[0]!.toISOString()} … ${slots.at(-1)!.toISOString()}\n`)
      const onRun = (r: { id: string; state: string; scheduled_for: string | null }): void => void process.stderr.write(`  ${r.scheduled_for}: run ${r.id} ${r.state}\n`)
      let runs: RunRecord[]
      const daemon = await findDaemon(cfg)
      if (daemon) {
        const b = await daemon.call<{ id: string }>('POST', '/backfills', { from: from.toISOString(), to: to.toISOString() }, ctx.signal)
        let seen = 0
        for (;;) {
          const s = await daemon.call<{ runs: Array<{ id: string; state: string; scheduled_for: string | null }>; done: boolean; error: string | null }>('GET', `/backfills/${b.id}`, undefined, ctx.signal)
          for (const r of s.runs.slice(seen)) onRun(r)
          seen = s.runs.length
          if (s.done) {
            if (s.error) throw new PipelineError('ERR_RUN_FAILED', `backfill stopped: ${s.error}`)
            break
          }
          await new Promise((r) => setTimeout(r, 500))
        }
        runs = (await daemon.call<{ runs: RunRecord[] }>('GET', `/status?limit=${Math.min(1000, slots.length + 20)}`, undefined, ctx.signal)).runs.filter((r) => r.trigger === 'backfill')
      } else {
        runs = await withLocalOrchestrator(cfg, ctx.signal, (orchestrator) => runSlots(orchestrator, slots, { signal: ctx.signal, onRun }))
      }
      const mine = runs.filter((r) => slots.some((s) => r.scheduled_for?.slice(0, 19) === s.toISOString().replace('T', ' ').slice(0, 19))).slice(0, slots.length)
      await writeOut(process.stdout, formatStatusGrid(mine, TASKS))
      const failed = mine.filter((r) => r.state !== 'success' && r.state !== 'success_with_failures')
      if (failed.length > 0) throw new PipelineError('ERR_RUN_FAILED', `backfill: ${failed.length} of ${slots.length} runs did not succeed (${failed.map((r) => r.id).join(', ')})`)
    })

  program
    .command('logs')
    .description('the log lines of a run\'s tasks ($CAREPLUS_HOME/logs/<run>/<task>.log): attempts, retries, outcomes and what the job printed')
    .argument('<run>', 'the run id (careplus status)')
    .argument('[task]', 'one task (default: every task of the run)')
    .action(async (runId: string, task: string | undefined) => {
      const cfg = ctx.config()
      const { runLogs, taskLogPath } = await taskLog()
      const tasks = task ? [task] : runLogs(cfg.home, runId)
      if (tasks.length === 0) throw new PipelineError('ERR_NOT_FOUND', `no task logs for run ${runId} in ${cfg.home}/logs (careplus status lists the runs)`)
      for (const name of tasks) {
        const file = taskLogPath(cfg.home, runId, name)
        if (!existsSync(file)) throw new PipelineError('ERR_NOT_FOUND', `no log for task ${name} of run ${runId} (it has: ${runLogs(cfg.home, runId).join(', ') || 'none'})`)
        await writeOut(process.stdout, (task ? '' : `== ${name} (${file})\n`) + readFileSync(file, 'utf8'))
      }
    })
}
