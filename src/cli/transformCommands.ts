import { Argument, Option, type Command } from 'commander'
import type { Config } from '../config.js'
import { PipelineError } from '../errors.js'
import type { Layer, TransformSummary } from '../transform/runTransforms.js'
import type { Warehouse } from '../warehouse/warehouse.js'
import type { CommandContext } from './commandContext.js'

// The actions load what they run (the engines, the SQL project) when they run: see src/cli.ts.
const output = () => import('./output.js')
const report = () => import('../transform/report.js')
const transforms = () => import('../transform/runTransforms.js')

async function withWarehouse<T>(cfg: Config, fn: (wh: Warehouse) => Promise<T>): Promise<T> {
  const { openWarehouse } = await import('../runtime.js')
  const wh = await openWarehouse(cfg, undefined)
  try {
    return await fn(wh)
  } finally {
    await wh.close()
  }
}

const layersOf = (layer: Layer | undefined): Layer[] | undefined => (layer ? [layer] : undefined)

/**
 * `careplus transform [silver|gold]`, `careplus test [silver|gold]` and
 * `careplus compile --target duckdb|snowflake`. Reports go to stdout; failing
 * data tests (with up to 5 offending rows each) to stderr, then a
 * PipelineError('ERR_DATA_TEST') for the caller to print and exit 1.
 */
export function registerTransformCommands(program: Command, ctx: CommandContext): void {
  const layerArgument = () => new Argument('[layer]', 'silver or gold (default: both)').choices(['silver', 'gold'])

  program
    .command('transform')
    .description('build the silver views and gold tables from bronze (sql/models), running the data tests after each layer')
    .addArgument(layerArgument())
    .action(async (layer: Layer | undefined) => {
      const cfg = ctx.config()
      const [{ writeOut }, { formatModelTimings, formatTestSummary, formatTestFailures, formatTransformSummary }, { DataTestError, runTransforms }] = await Promise.all([output(), report(), transforms()])
      // While a daemon holds the warehouse, it runs the layers (a single-task run) and this command waits.
      const { throughDaemon } = await import('./oneOffTask.js')
      const remote = await throughDaemon(cfg, layer ? [layer] : ['silver', 'gold'], { signal: ctx.signal })
      if (remote) {
        for (const r of Object.values(remote.results)) await writeOut(process.stdout, formatTransformSummary(r as TransformSummary))
        return
      }
      const { recordOneOff } = await import('../dag/oneOffRun.js')
      await withWarehouse(cfg, async (warehouse) => {
        try {
          const summary = await recordOneOff({ warehouse, home: cfg.home, task: layer ?? 'transform' }, () => runTransforms({ warehouse, layers: layersOf(layer), signal: ctx.signal }))
          await writeOut(process.stdout, formatTransformSummary(summary))
        } catch (err) {
          if (err instanceof DataTestError) {
            await writeOut(process.stdout, formatModelTimings(err.summary.models) + formatTestSummary(err.results))
            process.stderr.write(formatTestFailures(err.results))
          }
          throw err
        }
      })
    })

  program
    .command('test')
    .description('run the data tests alone against the current silver views and gold tables')
    .addArgument(layerArgument())
    .action(async (layer: Layer | undefined) => {
      const cfg = ctx.config()
      const [{ writeOut }, { formatTestSummary, formatTestFailures }, { describeFailures, runDataTests }] = await Promise.all([output(), report(), transforms()])
      const results = await withWarehouse(cfg, (warehouse) => runDataTests({ warehouse, layers: layersOf(layer), signal: ctx.signal }))
      await writeOut(process.stdout, formatTestSummary(results))
      if (results.some((r) => r.failures > 0)) {
        process.stderr.write(formatTestFailures(results))
        throw new PipelineError('ERR_DATA_TEST', `data tests failed: ${describeFailures(results)}`)
      }
    })

  program
    .command('compile')
    .description('print every statement the pipeline would send to an engine (DDL, loads, dialect functions, models, tests)')
    .addOption(new Option('--target <engine>', 'the engine to compile for').choices(['duckdb', 'snowflake']).makeOptionMandatory())
    .option('--stage <name>', 'Snowflake stage the loads read from (default: $SNOWFLAKE_STAGE)')
    .action(async (o: { target: 'duckdb' | 'snowflake'; stage?: string }) => {
      const [{ writeOut }, { compile, formatCompiled }] = await Promise.all([output(), import('../transform/compile.js')])
      let statements: string[]
      try {
        const cfg = ctx.config()
        statements = compile(o.target, {
          stage: o.stage ?? cfg.SNOWFLAKE_STAGE,
          stagePrefix: cfg.S3_STAGE_PREFIX,
          statementTimeoutSeconds: cfg.SNOWFLAKE_STATEMENT_TIMEOUT_IN_SECONDS,
          lockTimeoutSeconds: cfg.SNOWFLAKE_LOCK_TIMEOUT,
        })
      } catch (err) {
        if (err instanceof PipelineError) throw err
        throw new PipelineError('ERR_USAGE', (err as Error).message)
      }
      await writeOut(process.stdout, formatCompiled(statements))
    })
}
