import { isMainThread } from 'node:worker_threads'
import { PipelineError } from '../errors.js'
import { formatTestFailures, formatTransformSummary } from '../transform/report.js'
import { DataTestError, runTransforms, type Layer } from '../transform/runTransforms.js'
import { runJob } from './jobRunner.js'

/** The job's `layer` argument (from the DAG), or both layers. */
function layersArg(args: Record<string, unknown>): Layer[] | undefined {
  const layer = args.layer
  if (layer === undefined) return undefined
  if (layer === 'silver' || layer === 'gold') return [layer]
  throw new PipelineError('ERR_USAGE', `transform: unknown layer ${JSON.stringify(layer)} (use silver or gold)`)
}

/** One run of the transforms (silver, then gold, or the `layer` argument's), data tests after each layer. */
export function main(): Promise<void> {
  return runJob(
    'transform',
    async (rt, signal, args) => {
      try {
        return await runTransforms({ warehouse: rt.warehouse, layers: layersArg(args), signal })
      } catch (err) {
        // Run alone, show what failed; under Bree the error message names the tests.
        if (err instanceof DataTestError && isMainThread) process.stderr.write(formatTestFailures(err.results))
        throw err
      }
    },
    formatTransformSummary,
  )
}
