/**
 * The one-time Snowflake setup, generated from the configuration (the
 * seed's "Set Up Snowflake" section, made complete and correct):
 *
 * - the administrator's part, each step with the least role that can do it
 *   (Snowflake's system roles): USERADMIN creates the pipeline's role and
 *   its service user (key-pair login), SYSADMIN the warehouse and the
 *   database and grants them to the role, SECURITYADMIN the network policy
 *   that limits the user to SNOWFLAKE_ALLOWED_IPS, and ACCOUNTADMIN only the
 *   storage integration through which Snowflake reads the S3 stage prefix
 *   (printed with the IAM permissions and trust policies AWS needs);
 * - the pipeline's part, which `careplus setup` runs as the configured user
 *   and role (which then own what they create): the session settings every
 *   pipeline session starts with, the schemas, the CSV file format, the
 *   external stage, and the bronze/ops tables.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Config } from '../config.js'
import { PipelineError } from '../errors.js'
import { newRunId } from '../runId.js'
import { snowflakeLiteral, SNOWFLAKE_CSV_FORMAT } from '../load/snowflakeCopy.js'
import { GOLD_BUILD_SCHEMA } from './schemas.js'
import { withQueryTag } from './queryTag.js'
import { ddlStatements } from './sqlFiles.js'
import { SnowflakeWarehouse, sessionStatements, snowflakeSettings } from './snowflakeWarehouse.js'

export interface SetupStatement {
  /** Comment lines printed above the statement. */
  comment?: string
  sql: string
}

export interface SnowflakeSetup {
  /** Run once by an administrator (USERADMIN, SYSADMIN, SECURITYADMIN, ACCOUNTADMIN in turn). */
  admin: SetupStatement[]
  /** Run by `careplus setup` as the pipeline's user and role (USE and ALTER SESSION aside: its session has them). */
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

/**
 * The IAM permissions policy of the role the integration assumes: read the
 * stage prefix, list the bucket under it. Snowflake only reads (COPY, LIST):
 * no PutObject or DeleteObject.
 */
export function iamPermissionsPolicy(cfg: Pick<Config, 'S3_BUCKET' | 'S3_STAGE_PREFIX'>): string {
  stageUrl(cfg)
  const bucket = cfg.S3_BUCKET!
  const prefix = cfg.S3_STAGE_PREFIX
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: `arn:aws:s3:::${bucket}/${prefix}*` },
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}`, Condition: { StringLike: { 's3:prefix': [`${prefix}*`] } } },
        { Effect: 'Allow', Action: 's3:GetBucketLocation', Resource: `arn:aws:s3:::${bucket}` },
      ],
    },
    null,
    2,
  )
}

/** The role's trust policy: Snowflake's IAM user may assume it with the integration's external id (both from DESC INTEGRATION). */
export function iamTrustPolicy(): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: '<STORAGE_AWS_IAM_USER_ARN>' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'sts:ExternalId': '<STORAGE_AWS_EXTERNAL_ID>' } },
        },
      ],
    },
    null,
    2,
  )
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

  const network = networkStatements(cfg, { user, db })
  const admin: SetupStatement[] = [
    {
      comment: "Each step runs with the least role that can do it. USERADMIN: the pipeline's role (under SYSADMIN, like every custom role) and its user.",
      sql: 'USE ROLE USERADMIN',
    },
    { sql: `CREATE ROLE IF NOT EXISTS ${role}` },
    { sql: `GRANT ROLE ${role} TO ROLE SYSADMIN` },
    ...userStatements(cfg, { user, role, wh, db, key }),
    { sql: `GRANT ROLE ${role} TO USER ${user}` },
    { comment: 'SYSADMIN: compute and the database, and what the role may do with them.', sql: 'USE ROLE SYSADMIN' },
    {
      comment: 'The smallest warehouse, suspended after a minute idle, resumed by the first query.',
      sql: `CREATE WAREHOUSE IF NOT EXISTS ${wh}\n  WAREHOUSE_SIZE = 'XSMALL'\n  AUTO_SUSPEND = 60\n  AUTO_RESUME = TRUE\n  INITIALLY_SUSPENDED = TRUE`,
    },
    { comment: 'The database; the pipeline creates its schemas in it (and so owns them).', sql: `CREATE DATABASE IF NOT EXISTS ${db}` },
    { sql: `GRANT USAGE ON WAREHOUSE ${wh} TO ROLE ${role}` },
    { sql: `GRANT USAGE, CREATE SCHEMA ON DATABASE ${db} TO ROLE ${role}` },
    ...network,
    {
      comment:
        (network.length === 0
          ? `No network policy: ${user} may log in from any address. Set SNOWFLAKE_ALLOWED_IPS (the pipeline's egress\n` +
            'addresses) to have this script restrict it with a network rule and policy.\n\n'
          : '') +
        `ACCOUNTADMIN, for the storage integration alone: S3 access for the stage. Snowflake assumes ${cfg.SNOWFLAKE_AWS_ROLE_ARN ? 'this IAM role' : 'an IAM role (set SNOWFLAKE_AWS_ROLE_ARN)'}, limited to the stage prefix.\n` +
        'The IAM role needs this permissions policy (read the stage prefix, nothing else):\n' +
        iamPermissionsPolicy(cfg) +
        "\nand, once DESC INTEGRATION below shows STORAGE_AWS_IAM_USER_ARN and STORAGE_AWS_EXTERNAL_ID, this trust policy:\n" +
        iamTrustPolicy(),
      sql: 'USE ROLE ACCOUNTADMIN',
    },
    {
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
  const schemas = [...ddl.filter(isCreateSchema), 'CREATE SCHEMA IF NOT EXISTS util', `CREATE SCHEMA IF NOT EXISTS ${GOLD_BUILD_SCHEMA}`]
  const session = sessionStatements({ statementTimeoutSeconds: cfg.SNOWFLAKE_STATEMENT_TIMEOUT_IN_SECONDS, lockTimeoutSeconds: cfg.SNOWFLAKE_LOCK_TIMEOUT })
  const pipeline: SetupStatement[] = [
    { comment: `As the pipeline (what \`careplus setup\` runs, connected as ${user}).`, sql: `USE ROLE ${role}` },
    { sql: `USE WAREHOUSE ${wh}` },
    { sql: `USE DATABASE ${db}` },
    ...session.map((sql, i): SetupStatement => ({
      comment:
        i === 0
          ? 'The settings every pipeline session starts with (the pipeline sets them at login): TIMESTAMP columns are\n' +
            'TIMESTAMP_NTZ in UTC, text is read as timestamps and dates by AUTO detection whatever the account says, and\n' +
            'statements and lock waits are bounded (SNOWFLAKE_STATEMENT_TIMEOUT_IN_SECONDS, SNOWFLAKE_LOCK_TIMEOUT).'
          : undefined,
      sql,
    })),
    ...schemas.map((sql, i): SetupStatement => ({
      comment:
        i === 0
          ? "The medallion layers, the pipeline's own state (ops), the dialect's helper functions (util) and the schema gold is\n" +
            `built in before one ALTER SCHEMA gold SWAP WITH ${GOLD_BUILD_SCHEMA} publishes it. The swap moves schema grants with\n` +
            `the schemas: grant readers USAGE and SELECT ON FUTURE TABLES on both GOLD and ${GOLD_BUILD_SCHEMA.toUpperCase()}.`
          : undefined,
      sql,
    })),
    {
      comment: 'The staged files\' CSV dialect (sinks/csvEncoding.ts); the COPY statements also name these options inline.',
      sql: `CREATE OR REPLACE FILE FORMAT ${format}\n  ${SNOWFLAKE_CSV_FORMAT.split(/, (?=[A-Z_]+ = )/).join('\n  ')}`,
    },
    {
      comment: `The external stage over the stage prefix: COPY reads @${stage}/<key below ${cfg.S3_STAGE_PREFIX || '(the bucket root)'}>.`,
      sql: `CREATE OR REPLACE STAGE ${stage}\n  URL = ${snowflakeLiteral(url)}\n  STORAGE_INTEGRATION = ${cfg.SNOWFLAKE_STORAGE_INTEGRATION}\n  FILE_FORMAT = (FORMAT_NAME = ${snowflakeLiteral(format)})`,
    },
    ...ddl.filter((sql) => !isCreateSchema(sql)).map((sql, i): SetupStatement => ({ comment: i === 0 ? 'The bronze and ops tables (sql/ddl; also run by every load when missing).' : undefined, sql })),
  ]
  return { admin, pipeline }
}

/**
 * SECURITYADMIN's network policy for the service user, from
 * SNOWFLAKE_ALLOWED_IPS: a network rule (a schema object, so SYSADMIN first
 * gives SECURITYADMIN a schema to create it in), the policy allowing it, and
 * the policy set on the user. Unset: a comment saying how to add one.
 */
function networkStatements(cfg: Config, n: { user: string; db: string }): SetupStatement[] {
  const ips = cfg.SNOWFLAKE_ALLOWED_IPS
  if (!ips || ips.length === 0) return []
  const schema = `${n.db}.NETWORK`
  const rule = `${schema}.CAREPLUS_ALLOWED_IPS`
  const policy = 'CAREPLUS_NETWORK_POLICY'
  return [
    { comment: 'A schema for the network rule, where SECURITYADMIN may create it.', sql: `CREATE SCHEMA IF NOT EXISTS ${schema}` },
    { sql: `GRANT USAGE ON DATABASE ${n.db} TO ROLE SECURITYADMIN` },
    { sql: `GRANT USAGE, CREATE NETWORK RULE ON SCHEMA ${schema} TO ROLE SECURITYADMIN` },
    { comment: `SECURITYADMIN: ${n.user} may log in only from SNOWFLAKE_ALLOWED_IPS.`, sql: 'USE ROLE SECURITYADMIN' },
    {
      sql: `CREATE NETWORK RULE IF NOT EXISTS ${rule}\n  TYPE = IPV4\n  MODE = INGRESS\n  VALUE_LIST = (${ips.map(snowflakeLiteral).join(', ')})`,
    },
    { sql: `CREATE NETWORK POLICY IF NOT EXISTS ${policy}\n  ALLOWED_NETWORK_RULE_LIST = (${snowflakeLiteral(rule)})` },
    { sql: `ALTER USER ${n.user} SET NETWORK_POLICY = ${policy}` },
  ]
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
        // The session already has the configured role, warehouse and database, and the session settings.
        if (/^(USE|ALTER\s+SESSION)\s/i.test(s.sql)) continue
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
