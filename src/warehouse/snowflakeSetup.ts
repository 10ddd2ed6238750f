/**
 * The one-time Snowflake setup, generated from the configuration (the
 * seed's "Set Up Snowflake" section, made complete and correct):
 *
 * - the administrator's part (ACCOUNTADMIN): a warehouse, the database, the
 *   pipeline's role and what it may do, a service user that logs in with a
 *   key pair, and the storage integration through which Snowflake reads the
 *   S3 stage prefix;
 * - the pipeline's part, which `careplus setup` runs as the configured user
 *   and role (which then own what they create): the schemas, the CSV file
 *   format, the external stage, and the bronze/ops tables.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Config } from '../config.js'
import { PipelineError } from '../errors.js'
import { newRunId } from '../runId.js'
import { snowflakeLiteral, SNOWFLAKE_CSV_FORMAT } from '../load/snowflakeCopy.js'
import { withQueryTag } from './queryTag.js'
import { ddlStatements } from './sqlFiles.js'
import { SnowflakeWarehouse, snowflakeSettings } from './snowflakeWarehouse.js'

export interface SetupStatement {
  /** Comment lines printed above the statement. */
  comment?: string
  sql: string
}

export interface SnowflakeSetup {
  /** Run once by an administrator (ACCOUNTADMIN). */
  admin: SetupStatement[]
  /** Run by `careplus setup` as the pipeline's user and role (USE statements aside: its session has them). */
  pipeline: SetupStatement[]
}

const isCreateSchema = (sql: string): boolean => /^CREATE\s+SCHEMA\b/i.test(sql)

/** An identifier as written in the setup SQL: upper case when plain (as Snowflake stores it), quoted otherwise. */
function ident(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_$]*$/.test(name) ? name.toUpperCase() : `"${name.replaceAll('"', '""')}"`
}

/** The file format's name: `careplus_csv` in the stage's schema. */
export function fileFormatName(stage: string): string {
  const parts = stage.split('.')
  return [...parts.slice(0, -1), 'careplus_csv'].join('.')
}

/** `s3://bucket/prefix/`: what the stage points at, and all the integration allows. */
export function stageUrl(cfg: Pick<Config, 'S3_BUCKET' | 'S3_STAGE_PREFIX'>): string {
  if (!cfg.S3_BUCKET) throw new PipelineError('ERR_CONFIG', 'missing setting S3_BUCKET: Snowflake reads the stage from a real S3 bucket')
  return `s3://${cfg.S3_BUCKET}/${cfg.S3_STAGE_PREFIX}`
}

/**
 * The public half of SNOWFLAKE_PRIVATE_KEY_PATH as ALTER USER … SET
 * RSA_PUBLIC_KEY takes it (base64 DER, no PEM lines), and its fingerprint as
 * DESC USER shows it (RSA_PUBLIC_KEY_FP). The private key is read, never shown.
 */
export function publicKeyOf(privateKeyPath: string, passphrase?: string): { body: string; fingerprint: string } {
  let der: Buffer
  try {
    const key = createPrivateKey({ key: readFileSync(privateKeyPath), format: 'pem', passphrase })
    der = createPublicKey(key).export({ format: 'der', type: 'spki' })
  } catch (err) {
    const why = /passphrase|decrypt|bad decrypt/i.test((err as Error).message) ? 'cannot decrypt it (check SNOWFLAKE_PRIVATE_KEY_PASSPHRASE)' : 'not a PEM private key'
    throw new PipelineError('ERR_CONFIG', `invalid setting SNOWFLAKE_PRIVATE_KEY_PATH: ${privateKeyPath}: ${why}`, { cause: err })
  }
  return { body: der.toString('base64'), fingerprint: `SHA256:${createHash('sha256').update(der).digest('base64')}` }
}

export function snowflakeSetup(cfg: Config): SnowflakeSetup {
  const wh = ident(cfg.SNOWFLAKE_WAREHOUSE)
  const db = ident(cfg.SNOWFLAKE_DATABASE)
  const role = ident(cfg.SNOWFLAKE_ROLE)
  const user = ident(cfg.SNOWFLAKE_USER ?? 'careplus_svc')
  const integration = ident(cfg.SNOWFLAKE_STORAGE_INTEGRATION)
  const url = stageUrl(cfg)
  const roleArn = cfg.SNOWFLAKE_AWS_ROLE_ARN ?? 'arn:aws:iam::<aws-account-id>:role/<role Snowflake assumes to read the stage>'
  const key = cfg.SNOWFLAKE_PRIVATE_KEY_PATH ? publicKeyOf(cfg.SNOWFLAKE_PRIVATE_KEY_PATH, cfg.SNOWFLAKE_PRIVATE_KEY_PASSPHRASE) : undefined

  const admin: SetupStatement[] = [
    { comment: 'Run as ACCOUNTADMIN (it creates a warehouse, a database, a role, a user and an integration).', sql: 'USE ROLE ACCOUNTADMIN' },
    {
      comment: 'Compute: the smallest warehouse, suspended after a minute idle, resumed by the first query.',
      sql: `CREATE WAREHOUSE IF NOT EXISTS ${wh}\n  WAREHOUSE_SIZE = 'XSMALL'\n  AUTO_SUSPEND = 60\n  AUTO_RESUME = TRUE\n  INITIALLY_SUSPENDED = TRUE`,
    },
    { comment: 'The database; the pipeline creates its schemas in it (and so owns them).', sql: `CREATE DATABASE IF NOT EXISTS ${db}` },
    { comment: "The pipeline's role, under SYSADMIN like every custom role.", sql: `CREATE ROLE IF NOT EXISTS ${role}` },
    { sql: `GRANT ROLE ${role} TO ROLE SYSADMIN` },
    { sql: `GRANT USAGE ON WAREHOUSE ${wh} TO ROLE ${role}` },
    { sql: `GRANT USAGE, CREATE SCHEMA ON DATABASE ${db} TO ROLE ${role}` },
    ...userStatements(cfg, { user, role, wh, db, key }),
    { sql: `GRANT ROLE ${role} TO USER ${user}` },
    {
      comment:
        `S3 access for the stage: Snowflake assumes ${cfg.SNOWFLAKE_AWS_ROLE_ARN ? 'this IAM role' : 'an IAM role (set SNOWFLAKE_AWS_ROLE_ARN)'}, limited to the stage prefix.\n` +
        "Then DESC the integration and add its STORAGE_AWS_IAM_USER_ARN and STORAGE_AWS_EXTERNAL_ID to the role's trust policy.",
      sql:
        `CREATE STORAGE INTEGRATION IF NOT EXISTS ${integration}\n  TYPE = EXTERNAL_STAGE\n  STORAGE_PROVIDER = 'S3'\n  ENABLED = TRUE\n` +
        `  STORAGE_AWS_ROLE_ARN = ${snowflakeLiteral(roleArn)}\n  STORAGE_ALLOWED_LOCATIONS = (${snowflakeLiteral(url)})`,
    },
    { sql: `GRANT USAGE ON INTEGRATION ${integration} TO ROLE ${role}` },
    { sql: `DESC INTEGRATION ${integration}` },
  ]

  const stage = cfg.SNOWFLAKE_STAGE
  const format = fileFormatName(stage)
  // The schemas come from sql/ddl like the tables, ahead of the stage that lives in one of them; util holds the dialect's functions.
  const ddl = ddlStatements()
  const schemas = [...ddl.filter(isCreateSchema), 'CREATE SCHEMA IF NOT EXISTS util']
  const pipeline: SetupStatement[] = [
    { comment: `As the pipeline (what \`careplus setup\` runs, connected as ${user}).`, sql: `USE ROLE ${role}` },
    { sql: `USE WAREHOUSE ${wh}` },
    { sql: `USE DATABASE ${db}` },
    ...schemas.map((sql, i): SetupStatement => ({
      comment: i === 0 ? 'The medallion layers, the pipeline\'s own state (ops) and the dialect\'s helper functions (util).' : undefined,
      sql,
    })),
    {
      comment: 'The staged files\' CSV dialect (sinks/csvEncoding.ts); the COPY statements also name these options inline.',
      sql: `CREATE OR REPLACE FILE FORMAT ${format}\n  ${SNOWFLAKE_CSV_FORMAT.split(/, (?=[A-Z_]+ = )/).join('\n  ')}`,
    },
    {
      comment: `The external stage over the stage prefix: COPY reads @${stage}/<key below ${cfg.S3_STAGE_PREFIX || '(the bucket root)'}>.`,
      sql: `CREATE OR REPLACE STAGE ${stage}\n  URL = ${snowflakeLiteral(url)}\n  STORAGE_INTEGRATION = ${cfg.SNOWFLAKE_STORAGE_INTEGRATION}\n  FILE_FORMAT = ${format}`,
    },
    ...ddl.filter((sql) => !isCreateSchema(sql)).map((sql, i): SetupStatement => ({ comment: i === 0 ? 'The bronze and ops tables (sql/ddl; also run by every load when missing).' : undefined, sql })),
  ]
  return { admin, pipeline }
}

/** The pipeline's user: a key-pair service user; with password authentication configured, a legacy one. */
function userStatements(
  cfg: Config,
  n: { user: string; role: string; wh: string; db: string; key: { body: string; fingerprint: string } | undefined },
): SetupStatement[] {
  const defaults = `  DEFAULT_ROLE = ${n.role}\n  DEFAULT_WAREHOUSE = ${n.wh}\n  DEFAULT_NAMESPACE = ${n.db}.BRONZE`
  if (!n.key && cfg.SNOWFLAKE_PASSWORD !== undefined) {
    return [
      {
        comment:
          "The pipeline's user, with the password authentication configured (SNOWFLAKE_PASSWORD). Snowflake is phasing\n" +
          'passwords out for service users: prefer a key pair (SNOWFLAKE_PRIVATE_KEY_PATH, see the README).',
        sql: `CREATE USER IF NOT EXISTS ${n.user}\n  TYPE = LEGACY_SERVICE\n  PASSWORD = '<the value of SNOWFLAKE_PASSWORD>'\n  MUST_CHANGE_PASSWORD = FALSE\n${defaults}`,
      },
    ]
  }
  return [
    {
      comment:
        "The pipeline's user: a service user (no password, no MFA prompt) that logs in with a key pair." +
        (n.key
          ? ''
          : '\nGenerate the key pair, then put rsa_key.pub between its BEGIN/END lines into RSA_PUBLIC_KEY below:\n' +
            '  openssl genrsa 2048 | openssl pkcs8 -topk8 -v2 aes-256-cbc -inform PEM -out rsa_key.p8\n' +
            '  openssl rsa -in rsa_key.p8 -pubout -out rsa_key.pub\n' +
            'and set SNOWFLAKE_PRIVATE_KEY_PATH=rsa_key.p8 (and SNOWFLAKE_PRIVATE_KEY_PASSPHRASE).'),
      sql: `CREATE USER IF NOT EXISTS ${n.user}\n  TYPE = SERVICE\n${defaults}`,
    },
    {
      comment: n.key ? `The public half of SNOWFLAKE_PRIVATE_KEY_PATH; DESC USER ${n.user} then shows RSA_PUBLIC_KEY_FP = ${n.key.fingerprint}.` : undefined,
      sql: `ALTER USER ${n.user} SET RSA_PUBLIC_KEY = ${snowflakeLiteral(n.key?.body ?? '<contents of rsa_key.pub without its BEGIN/END lines>')}`,
    },
  ]
}

/** The whole setup as one script, each statement ending in `;` and a newline. */
export function formatSetup(setup: SnowflakeSetup): string {
  const block = (s: SetupStatement): string => (s.comment ? s.comment.split('\n').map((l) => `-- ${l}`.trimEnd()).join('\n') + '\n' : '') + `${s.sql};\n`
  return (
    '-- CarePlus on Snowflake: one-time setup, generated by `careplus setup --print` from the configuration.\n\n' +
    '-- 1. The administrator\'s part.\n' +
    setup.admin.map(block).join('\n') +
    '\n-- 2. The pipeline\'s part.\n' +
    setup.pipeline.map(block).join('\n')
  )
}

/**
 * `careplus setup`: the pipeline's part, as the configured user and role,
 * then a LIST of the stage, which proves Snowflake can read the bucket
 * through the integration (the IAM trust policy is the usual mistake).
 * Idempotent: every statement creates when missing or replaces.
 */
export async function runSnowflakeSetup(cfg: Config, opts: { signal?: AbortSignal; onStep?: (line: string) => void } = {}): Promise<void> {
  const setup = snowflakeSetup(cfg)
  const wh = await SnowflakeWarehouse.open(snowflakeSettings(cfg))
  try {
    await withQueryTag({ run_id: newRunId(), task: 'setup' }, async () => {
      for (const s of setup.pipeline) {
        // The session already has the configured role, warehouse and database.
        if (/^USE\s/i.test(s.sql)) continue
        opts.signal?.throwIfAborted()
        const what = s.sql.split('\n')[0]!
        try {
          await wh.run(s.sql)
        } catch (err) {
          throw new PipelineError((err as PipelineError).code ?? 'ERR_SETUP', `setup: ${what}: ${(err as Error).message}`, { cause: err })
        }
        opts.onStep?.(`ok  ${what}`)
      }
      const probe = `LIST @${cfg.SNOWFLAKE_STAGE}/careplus-setup-check/`
      try {
        await wh.query(probe)
      } catch (err) {
        throw new PipelineError('ERR_SETUP', `setup: the stage cannot read ${stageUrl(cfg)} (${probe}): ${(err as Error).message}`, { cause: err })
      }
      opts.onStep?.(`ok  ${probe} (Snowflake reads ${stageUrl(cfg)} through ${cfg.SNOWFLAKE_STORAGE_INTEGRATION})`)
    })
  } finally {
    await wh.close()
  }
}
