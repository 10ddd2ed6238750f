/**
 * `careplus compile --target duckdb|snowflake`, like `dbt compile`: every
 * statement the pipeline would send to that engine, in execution order —
 * on Snowflake the session settings first, then the bronze/ops DDL, a
 * representative load per bronze table, the dialect functions, then per
 * layer its models (dependency order, built and published as the engine
 * does it: on Snowflake gold in gold__build, then the swap) and the query
 * that counts each data test's offending rows. The Snowflake gold build is
 * shown for the daily case, where gold exists (its grants are carried over).
 */
import { DEFAULTS } from '../config.js'
import { ddlColumnTypes } from '../load/ddlColumnTypes.js'
import { duckdbCopyStatement } from '../load/duckdbCopy.js'
import { exampleLoads } from '../load/exampleLoads.js'
import { snowflakeCopyStatement } from '../load/snowflakeCopy.js'
import { sessionStatements } from '../warehouse/snowflakeWarehouse.js'
import { ddlStatements } from '../warehouse/sqlFiles.js'
import { dialectStatements, failureCountSql, LAYERS, layerBuild, loadProject, type Engine } from './project.js'

export interface CompileOptions {
  /** Snowflake stage the loads read from (default SNOWFLAKE_STAGE's default, `bronze.careplus_stage`). */
  stage?: string
  /** The stage key prefix the ingests write under (S3_STAGE_PREFIX, default `stage/`). */
  stagePrefix?: string
  /** Another project root than the repository's `sql/` (tests). */
  sqlDir?: string
  /** The Snowflake session's STATEMENT_TIMEOUT_IN_SECONDS and LOCK_TIMEOUT (default: the settings' defaults). */
  statementTimeoutSeconds?: number
  lockTimeoutSeconds?: number
}

/** Where DuckDB reads a downloaded copy of a staged file. */
const EXAMPLE_LOCAL_COPY = '.careplus/tmp/copy-a1b2c3/0.csv.gz'

/** Every statement, in execution order. */
export function compile(target: Engine, opts: CompileOptions = {}): string[] {
  if (target !== 'duckdb' && target !== 'snowflake') throw new Error(`unknown target ${String(target)}`)
  const ddl = ddlStatements()
  const types = ddlColumnTypes(ddl)
  const stagePrefix = opts.stagePrefix ?? DEFAULTS.S3_STAGE_PREFIX
  const loads = exampleLoads(stagePrefix).map((spec) => {
    const tableTypes = types.get(spec.table)
    if (!tableTypes) throw new Error(`no DDL for ${spec.table}`)
    // The same builders the engines send (duckdbWarehouse's read_csv, snowflakeWarehouse's COPY).
    return target === 'duckdb'
      ? duckdbCopyStatement(spec, spec.files.map(() => EXAMPLE_LOCAL_COPY), tableTypes).sql
      : snowflakeCopyStatement(spec, tableTypes, { stage: opts.stage ?? DEFAULTS.SNOWFLAKE_STAGE, stagePrefix })
  })
  const project = loadProject(opts.sqlDir)
  const transforms = LAYERS.flatMap((layer) => {
    const models = project.models.filter((m) => m.layer === layer)
    const plan = layerBuild(layer, target, models)
    return [...models.flatMap((m) => plan.build(m, true)), ...plan.publish, ...models.flatMap((m) => m.tests.map(failureCountSql))]
  })
  const session =
    target === 'snowflake'
      ? sessionStatements({
          statementTimeoutSeconds: opts.statementTimeoutSeconds ?? DEFAULTS.SNOWFLAKE_STATEMENT_TIMEOUT_IN_SECONDS,
          lockTimeoutSeconds: opts.lockTimeoutSeconds ?? DEFAULTS.SNOWFLAKE_LOCK_TIMEOUT,
        })
      : []
  return [...session, ...ddl, ...loads, ...dialectStatements(target, opts.sqlDir), ...transforms]
}

/** The statements as one text, each followed by `;` and a newline, a blank line between. */
export function formatCompiled(statements: readonly string[]): string {
  return statements.map((s) => `${s};\n`).join('\n')
}
