/**
 * Runs the SQL transform project (see project.ts) on a warehouse, like
 * `dbt build`: install the engine's dialect functions, then per layer build
 * its models in dependency order and run its data tests; a failing test
 * stops the run before the next layer.
 *
 * Atomicity, per layer (see layerBuild in project.ts): on DuckDB the
 * layer's models are built inside one `warehouse.transaction`, so the whole
 * layer commits or none of it. Snowflake commits every DDL statement on its
 * own, so there gold is built in `gold__build` and published by one
 * `ALTER SCHEMA gold SWAP WITH gold__build`: a failing gold model leaves
 * every previous gold table in place on both engines. Silver views replace
 * themselves one by one on Snowflake, each atomically.
 */
import { isAbortError, PipelineError, type ErrorCode } from '../errors.js'
import { newRunId } from '../runId.js'
import { withQueryTag } from '../warehouse/queryTag.js'
import type { Row, Warehouse, WarehouseTx } from '../warehouse/warehouse.js'
import { dialectStatements, failureCountSql, failureSampleSql, LAYERS, layerBuild, loadProject, type DataTest, type Layer, type Model } from './project.js'

export type { Layer } from './project.js'

export interface ModelTiming {
  model: string
  layer: Layer
  seconds: number
  rows?: number
}
export interface TestResult {
  test: string
  model: string
  failures: number
  sample: Record<string, unknown>[]
}
export interface TransformSummary {
  models: ModelTiming[]
  tests: TestResult[]
  seconds: number
}

export type TransformEvent = { type: 'model' | 'test'; name: string; seconds: number; failures?: number }

/** Offending rows kept per failing test. */
export const SAMPLE_ROWS = 5

/** A data test failed: carries every test result of the run so far, and the partial summary. */
export class DataTestError extends PipelineError {
  constructor(
    message: string,
    readonly results: TestResult[],
    readonly summary: TransformSummary,
  ) {
    super('ERR_DATA_TEST', message)
  }
}

const elapsed = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e9

function requestedLayers(layers: readonly Layer[] | undefined): Layer[] {
  const wanted = layers ?? LAYERS
  for (const l of wanted) if (!LAYERS.includes(l)) throw new PipelineError('ERR_USAGE', `unknown layer "${l}" (use ${LAYERS.join(' or ')})`)
  return LAYERS.filter((l) => wanted.includes(l))
}

function firstLine(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0]!
}

/** Codes of errors already saying what failed, passed through unwrapped. */
const OWN_CODES = new Set(['ERR_CANCELLED', 'ERR_MODEL', 'ERR_MODEL_GRAPH', 'ERR_DATA_TEST', 'ERR_DATA_TEST_QUERY'])

/** Leaves cancellations and this module's errors alone; wraps an engine error with what was running. */
function wrap(err: unknown, code: ErrorCode, what: string, signal?: AbortSignal): unknown {
  if (signal?.aborted || isAbortError(err)) return err
  if (err instanceof PipelineError && OWN_CODES.has(err.code)) return err
  let msg = firstLine(err)
  if (code === 'ERR_DATA_TEST_QUERY' && /does not exist/i.test(msg)) msg += ' (run "careplus transform" first)'
  return new PipelineError(code, `${what}: ${msg}`, { cause: err })
}

function sampleValue(v: unknown): unknown {
  return v instanceof Date ? v.toISOString() : v
}

/** One line naming the failing tests, for the error message. */
export function describeFailures(results: readonly TestResult[]): string {
  const failing = results.filter((r) => r.failures > 0)
  return failing.map((r) => `${r.model} ${r.test} (${r.failures} row${r.failures === 1 ? '' : 's'})`).join(', ')
}

async function runTest(q: Pick<WarehouseTx, 'query'>, test: DataTest, signal?: AbortSignal): Promise<TestResult> {
  signal?.throwIfAborted()
  try {
    const [row] = await q.query(failureCountSql(test), undefined, signal)
    const failures = Number(row?.failures ?? 0)
    let sample: Row[] = []
    if (failures > 0) {
      signal?.throwIfAborted()
      sample = await q.query(failureSampleSql(test, SAMPLE_ROWS), undefined, signal)
    }
    return {
      test: test.name,
      model: test.model,
      failures,
      sample: sample.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, sampleValue(v)]))),
    }
  } catch (err) {
    throw wrap(err, 'ERR_DATA_TEST_QUERY', `data test ${test.model} ${test.name} (${test.declaredAt})`, signal)
  }
}

async function runLayerTests(
  warehouse: Warehouse,
  models: readonly Model[],
  signal: AbortSignal | undefined,
  onEvent?: (e: TransformEvent) => void,
): Promise<TestResult[]> {
  const results: TestResult[] = []
  for (const model of models) {
    for (const test of model.tests) {
      const started = process.hrtime.bigint()
      const r = await runTest(warehouse, test, signal)
      results.push(r)
      onEvent?.({ type: 'test', name: `${r.model} ${r.test}`, seconds: elapsed(started), failures: r.failures })
    }
  }
  return results
}

/** Creates (or replaces) the engine's `util.cp_*` helper functions. */
export async function installDialect(warehouse: Warehouse, signal?: AbortSignal, sqlDir?: string): Promise<void> {
  const statements = dialectStatements(warehouse.engine, sqlDir)
  await warehouse.transaction(async (tx) => {
    for (const sql of statements) {
      signal?.throwIfAborted()
      try {
        await tx.run(sql, undefined, signal)
      } catch (err) {
        throw wrap(err, 'ERR_MODEL', `sql/dialect/${warehouse.engine}.sql`, signal)
      }
    }
  })
}

/**
 * Installs the dialect functions, then for each requested layer: build its
 * models in dependency order, run its tests; a failing test throws
 * PipelineError('ERR_DATA_TEST') (a DataTestError carrying the TestResult[]
 * in `results`) before the next layer runs. Honours signal between statements.
 */
export function runTransforms(opts: TransformOptions): Promise<TransformSummary> {
  // Every warehouse statement of the run is tagged with its id (Snowflake's QUERY_TAG).
  return withQueryTag({ run_id: opts.runId ?? newRunId(), task: 'transform' }, () => runTransformsNow(opts))
}

export interface TransformOptions {
  warehouse: Warehouse
  layers?: Layer[]
  signal?: AbortSignal
  /** The DAG run this belongs to (its query tag); a new id when run alone. */
  runId?: string
  onEvent?: (e: TransformEvent) => void
  /** Another project root than the repository's `sql/` (tests). */
  sqlDir?: string
}

async function runTransformsNow(opts: TransformOptions): Promise<TransformSummary> {
  const { warehouse, signal, onEvent } = opts
  const started = process.hrtime.bigint()
  const layers = requestedLayers(opts.layers)
  const project = loadProject(opts.sqlDir)
  const summary: TransformSummary = { models: [], tests: [], seconds: 0 }

  signal?.throwIfAborted()
  await warehouse.migrate()
  await installDialect(warehouse, signal, opts.sqlDir)

  for (const layer of layers) {
    const models = project.models.filter((m) => m.layer === layer)
    const plan = layerBuild(layer, warehouse.engine, models)
    const timings: ModelTiming[] = []
    const build = async (q: Pick<WarehouseTx, 'run' | 'query'>): Promise<void> => {
      const published = plan.publishedSql ? new Set((await q.query(plan.publishedSql, undefined, signal)).map((r) => `${layer}.${String(r.name)}`)) : new Set<string>()
      for (const model of models) {
        signal?.throwIfAborted()
        const t0 = process.hrtime.bigint()
        try {
          for (const sql of plan.build(model, published.has(model.name))) await q.run(sql, undefined, signal)
          const timing: ModelTiming = { model: model.name, layer, seconds: 0 }
          if (model.kind === 'table') {
            const [row] = await q.query(`SELECT COUNT(*) AS n FROM ${plan.relation(model)}`, undefined, signal)
            timing.rows = Number(row?.n ?? 0)
          }
          timing.seconds = elapsed(t0)
          timings.push(timing)
          onEvent?.({ type: 'model', name: model.name, seconds: timing.seconds })
        } catch (err) {
          throw wrap(err, 'ERR_MODEL', `${model.name} (${model.file})`, signal)
        }
      }
      signal?.throwIfAborted()
    }
    if (plan.publish.length === 0) {
      await warehouse.transaction(build)
    } else {
      // Built beside the live layer (each DDL statement commits on its own), then published in one statement.
      await build(warehouse)
      for (const sql of plan.publish) {
        signal?.throwIfAborted()
        try {
          await warehouse.run(sql, undefined, signal)
        } catch (err) {
          throw wrap(err, 'ERR_MODEL', `publishing ${layer}`, signal)
        }
      }
    }
    summary.models.push(...timings)

    const results = await runLayerTests(warehouse, models, signal, onEvent)
    summary.tests.push(...results)
    if (results.some((r) => r.failures > 0)) {
      summary.seconds = elapsed(started)
      const next = layers.slice(layers.indexOf(layer) + 1)
      const stopped = next.length > 0 ? `; ${next.join(', ')} not run` : ''
      throw new DataTestError(`data tests failed after ${layer}: ${describeFailures(results)}${stopped}`, summary.tests, summary)
    }
  }
  summary.seconds = elapsed(started)
  return summary
}

/** Runs the data tests of the requested layers against what is built now; never throws on failures. */
export function runDataTests(opts: { warehouse: Warehouse; layers?: Layer[]; signal?: AbortSignal; sqlDir?: string; onEvent?: (e: TransformEvent) => void }): Promise<TestResult[]> {
  return withQueryTag({ run_id: newRunId(), task: 'test' }, () => runDataTestsNow(opts))
}

async function runDataTestsNow(opts: { warehouse: Warehouse; layers?: Layer[]; signal?: AbortSignal; sqlDir?: string; onEvent?: (e: TransformEvent) => void }): Promise<TestResult[]> {
  const layers = requestedLayers(opts.layers)
  const project = loadProject(opts.sqlDir)
  const results: TestResult[] = []
  for (const layer of layers) {
    results.push(...(await runLayerTests(opts.warehouse, project.models.filter((m) => m.layer === layer), opts.signal, opts.onEvent)))
  }
  return results
}
