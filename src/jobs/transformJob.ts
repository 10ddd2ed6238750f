import { PipelineError } from '../errors.js'
import { formatTestFailures, formatTransformSummary } from '../transform/report.js'
import { DataTestError, runTransforms, type Layer } from '../transform/runTransforms.js'
import { runJob } from './jobRunner.js'

/** The job's layers from its DAG arguments: `{ layers: ['silver'] }` or `{ layer: 'silver' }`; both layers when neither is given. */
export function layersArg(args: Record<string, unknown>): Layer[] | undefined {
  const raw = args.layers ?? args.layer
  if (raw === undefined) return undefined
  const list = Array.isArray(raw) ? raw : [raw]
  for (const l of list) {
    if (l !== 'silver' && l !== 'gold') throw new PipelineError('ERR_USAGE', `transform: unknown layer ${JSON.stringify(l)} (use silver or gold)`)
  }
  return list as Layer[]
}

/** One run of the transforms (silver, then gold, or the layers in the job's arguments), data tests after each layer. */
export function main(): Promise<void> {
  return runJob(
    'transform',
    async (rt, signal, args, runId) => {
      try {
        return await runTransforms({ warehouse: rt.warehouse, layers: layersArg(args), signal, runId })
      } catch (err) {
        // What failed, with offending rows: on the terminal run alone, in the task's log under Bree.
        if (err instanceof DataTestError) process.stderr.write(formatTestFailures(err.results))
        throw err
      }
    },
    formatTransformSummary,
  )
}
