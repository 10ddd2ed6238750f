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
import { LOG_COLUMNS, REJECT_COLUMNS } from '../../parsers/logRecord.js'
import { DEFAULTS } from '../config.js'
import { BRONZE_TICKET_CSV_COLUMNS } from '../pipelines/ingestTickets.js'
import { sessionStatements } from '../warehouse/snowflakeWarehouse.js'
import { ddlStatements } from '../warehouse/sqlFiles.js'
import type { CopySpec } from '../warehouse/warehouse.js'
import { ddlColumnTypes, duckdbCopyStatement, snowflakeCopyStatement } from './loadStatements.js'
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

/** Example values for the representative loads: what one run of each ingest would send. */
const EXAMPLE = {
  runId: '20250801T020000Z-a1b2c3',
  loadedAt: '2025-08-01 02:00:05.000',
  extractedAt: '2025-08-01 02:00:01.000',
  etag: '9b2cf535f27731c974343645a3985328',
  localCopy: '.careplus/tmp/copy-a1b2c3/0.csv.gz',
}

/** One representative COPY per bronze table, as the ingests build them (the ledgered log loads replace, so force). */
export function representativeLoads(stagePrefix: string = DEFAULTS.S3_STAGE_PREFIX): Array<Pick<CopySpec, 'table' | 'csvColumns' | 'files' | 'constants' | 'force'>> {
  const logObject = `${stagePrefix}logs/careplus-2025-07-01.log/${EXAMPLE.etag}/`
  return [
    {
      table: 'bronze.logs',
      csvColumns: LOG_COLUMNS,
      files: [`${logObject}rows/part-00000.csv.gz`],
      constants: { _loaded_at: EXAMPLE.loadedAt, _run_id: EXAMPLE.runId },
      force: true,
    },
    {
      table: 'bronze.log_rejects',
      csvColumns: REJECT_COLUMNS,
      files: [`${logObject}rejects/part-00000.csv.gz`],
      constants: { _loaded_at: EXAMPLE.loadedAt, _run_id: EXAMPLE.runId },
      force: true,
    },
    {
      table: 'bronze.tickets',
      csvColumns: BRONZE_TICKET_CSV_COLUMNS,
      files: [`${stagePrefix}tickets/${EXAMPLE.runId}/part-00000.csv.gz`],
      constants: { _extracted_at: EXAMPLE.extractedAt, _loaded_at: EXAMPLE.loadedAt, _run_id: EXAMPLE.runId },
    },
  ]
}

/** Every statement, in execution order. */
export function compile(target: Engine, opts: CompileOptions = {}): string[] {
  if (target !== 'duckdb' && target !== 'snowflake') throw new Error(`unknown target ${String(target)}`)
  const ddl = ddlStatements()
  const types = ddlColumnTypes(ddl)
  const stagePrefix = opts.stagePrefix ?? DEFAULTS.S3_STAGE_PREFIX
  const loads = representativeLoads(stagePrefix).map((spec) => {
    const tableTypes = types.get(spec.table)
    if (!tableTypes) throw new Error(`no DDL for ${spec.table}`)
    // The same builders the engines send (duckdbWarehouse's read_csv, snowflakeWarehouse's COPY).
    return target === 'duckdb'
      ? duckdbCopyStatement(spec, spec.files.map(() => EXAMPLE.localCopy), tableTypes).sql
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
