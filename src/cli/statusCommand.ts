/** `careplus status [--format table|json] [--limit n]`: recent runs, from the running daemon or the warehouse. */
import { daemonStatus } from '../daemon.js'
import { PIPELINE_DAG } from '../dag/pipelineDag.js'
import { RunHistory } from '../dag/runHistory.js'
import { openWarehouse } from '../runtime.js'
import type { CommandContext } from './commandContext.js'
import { formatStatusGrid, statusJson } from './statusGrid.js'

/** The grid's columns: the DAG's tasks, then any other task a one-off run recorded. */
function gridTasks(runs: Array<{ tasks: Array<{ name: string }> }>): string[] {
  const names = PIPELINE_DAG.map((t) => t.name)
  for (const r of runs) for (const t of r.tasks) if (!names.includes(t.name)) names.push(t.name)
  return names
}

export async function statusCommand(o: { format: 'table' | 'json'; limit: number }, ctx: CommandContext): Promise<void> {
  const cfg = ctx.config()
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
}
