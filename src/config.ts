import { existsSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { parse as parseDotenv } from 'dotenv'
import type { z as Zod } from 'zod'
import { PipelineError } from './errors.js'

/**
 * Every setting with its default, in one place. Values come from the
 * environment, then an optional `.env` in the working directory (the
 * environment wins). Unset S3_BUCKET means "use the embedded S3 server".
 */
export const DEFAULTS = {
  /** State directory: embedded S3 data, the DuckDB file, temporary downloads. */
  CAREPLUS_HOME: './.careplus',
  /** `duckdb` (embedded file in CAREPLUS_HOME) or `snowflake`. */
  WAREHOUSE: 'duckdb',
  /** Unset: an embedded s3rver over $CAREPLUS_HOME/s3 with bucket `careplus`. */
  S3_BUCKET: undefined as string | undefined,
  /** Any S3-compatible endpoint (MinIO, s3rver, …); unset means AWS. */
  S3_ENDPOINT: undefined as string | undefined,
  S3_REGION: 'us-east-1',
  /** Where the raw `.log` objects live. */
  S3_LOGS_PREFIX: 'logs/',
  /** Where staged `.csv.gz` files are written for COPY. */
  S3_STAGE_PREFIX: 'stage/',
  /** Attempts of every S3 request (the SDK's adaptive retry), and of each object read with its ranged resumes. */
  S3_MAX_ATTEMPTS: 8,
  /** An S3 body that delivers no byte for this long is abandoned and resumed from where it stopped. */
  S3_READ_TIMEOUT_MS: 60_000,
  /** Source objects parsed and staged at the same time. */
  INGEST_CONCURRENCY: 4,
  /**
   * A staged file rolls over past this many compressed bytes (Snowflake
   * suggests 100–250 MB); a log load batch closes past it too.
   */
  STAGE_FILE_MAX_BYTES: 128 * 1024 * 1024,
  /** At most this many log objects per load batch (one transaction, one COPY per table; Snowflake takes up to 1,000 files a COPY). */
  LOAD_BATCH_MAX_OBJECTS: 1000,
  /**
   * Log objects that cannot be read (corrupt gzip, a body that never matches
   * its size) are quarantined and the run goes on; past this many in one run
   * the run fails instead: a bucket of bad objects is a configuration problem.
   */
  MAX_FAILED_OBJECTS: 10,
  /** A log block larger than this is rejected instead of buffered (split2's maxLength). */
  MAX_BLOCK_BYTES: 1024 * 1024,
  /** The tickets source (MySQL/MariaDB). */
  MYSQL_HOST: '127.0.0.1',
  MYSQL_PORT: 3306,
  MYSQL_DATABASE: 'careplus_support_db',
  MYSQL_USER: 'root',
  /** Secret: never printed. */
  MYSQL_PASSWORD: '',
  /**
   * A MySQL connection that delivers no byte for this long while the run
   * waits on it (a query's rows, a count) is abandoned and the
   * run fails as a transient error (ERR_MYSQL_TIMEOUT) instead of hanging on
   * a silent network partition. Time the run spends staging rows is not counted.
   */
  MYSQL_READ_TIMEOUT_MS: 60_000,
  /**
   * Unset: new tickets by `created_at`, plus a re-extraction of every ticket
   * still open at its last load (the seed's table has no update timestamp).
   * Set to an `updated_at`-like column: extract by it alone.
   */
  TICKETS_CURSOR_COLUMN: undefined as string | undefined,
  /**
   * Every run re-reads tickets whose cursor value is within this window
   * below the watermark (dlt's `lag`), so rows that arrive late (committed
   * with an older created_at) are not lost; unchanged rows are not loaded
   * twice. A duration: `2d`, `36h`, `90m`, `30s`, or `0` for none.
   */
  TICKETS_LOOKBACK: '2d',
  /** The daemon's schedule (cron, 5 fields, or 6 with seconds) and its time zone. */
  PIPELINE_CRON: '0 2 * * *',
  PIPELINE_TZ: 'UTC',
  /** At start-up, run at once when the latest scheduled time has no successful run. */
  PIPELINE_CATCHUP: true,
  /** Retries of a failed task, with exponential backoff from PIPELINE_RETRY_DELAY_MS. */
  PIPELINE_RETRIES: 2,
  PIPELINE_RETRY_DELAY_MS: 30_000,
  /** A task still running after this is cancelled and counts as a failed attempt. */
  PIPELINE_TASK_TIMEOUT_MS: 3_600_000,
  /** How long SIGTERM waits for a cancelled run to wind down before the daemon exits. */
  PIPELINE_GRACE_MS: 30_000,
  /** Loopback port of the daemon's /healthz, /metrics and /status (0: any free port). */
  DAEMON_PORT: 9464,
  /** Address the daemon's HTTP endpoint binds (unauthenticated: loopback unless a container's private network needs 0.0.0.0). */
  DAEMON_HOST: '127.0.0.1',
  /** pino level: fatal, error, warn, info, debug, trace, silent. */
  LOG_LEVEL: 'info',

  // Snowflake (WAREHOUSE=snowflake). Account, user and one credential are
  // required then; the object names default to what `careplus setup --print` creates.
  /** Account identifier, e.g. `myorg-myaccount` (or a legacy locator such as `xy12345.eu-west-1`). */
  SNOWFLAKE_ACCOUNT: undefined as string | undefined,
  /** The pipeline's (service) user. */
  SNOWFLAKE_USER: undefined as string | undefined,
  /** Secret: password authentication. Unused when SNOWFLAKE_PRIVATE_KEY_PATH is set. */
  SNOWFLAKE_PASSWORD: undefined as string | undefined,
  /** Key-pair authentication (SNOWFLAKE_JWT): a PKCS#8 PEM private key file, e.g. rsa_key.p8. */
  SNOWFLAKE_PRIVATE_KEY_PATH: undefined as string | undefined,
  /** Secret: the passphrase of an encrypted private key file. */
  SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: undefined as string | undefined,
  SNOWFLAKE_WAREHOUSE: 'careplus_wh',
  SNOWFLAKE_DATABASE: 'careplus',
  SNOWFLAKE_ROLE: 'careplus_role',
  /** The external stage over s3://$S3_BUCKET/$S3_STAGE_PREFIX that COPY reads, schema-qualified. */
  SNOWFLAKE_STAGE: 'bronze.careplus_stage',
  /** The storage integration the stage authenticates to S3 with (created by an administrator). */
  SNOWFLAKE_STORAGE_INTEGRATION: 'careplus_s3',
  /** The AWS IAM role the storage integration assumes; only printed by `careplus setup --print`. */
  SNOWFLAKE_AWS_ROLE_ARN: undefined as string | undefined,
  /** Unset: https://<account>.snowflakecomputing.com. Set for a private-link or other explicit endpoint URL. */
  SNOWFLAKE_ACCESS_URL: undefined as string | undefined,
  /**
   * A login that has not succeeded after this many seconds fails, naming the
   * account (the driver alone retries an unreachable host for ~149 s).
   */
  SNOWFLAKE_LOGIN_TIMEOUT_SECONDS: 15,
  /** Snowflake cancels a statement running longer (the session's STATEMENT_TIMEOUT_IN_SECONDS; 2 days, Snowflake's default, at most 7). */
  SNOWFLAKE_STATEMENT_TIMEOUT_IN_SECONDS: 172_800,
  /** A statement waiting longer for a lock another transaction holds fails (the session's LOCK_TIMEOUT; 12 h, Snowflake's default). */
  SNOWFLAKE_LOCK_TIMEOUT: 43_200,
  /** A query result that delivers no row for this many seconds mid-stream fails as a transient error instead of hanging. */
  SNOWFLAKE_STREAM_IDLE_TIMEOUT_SECONDS: 300,
  /**
   * Comma-separated IPv4 addresses or CIDR ranges the service user may log in
   * from; `careplus setup --print` turns them into a network rule and policy.
   * Unset: no network policy is printed.
   */
  SNOWFLAKE_ALLOWED_IPS: undefined as string | undefined,
} as const

const DURATION_UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const
const MAX_LOOKBACK_MS = 3650 * DURATION_UNIT_MS.d

/** `2d`, `36h`, `90m`, `30s` (or `0`) in milliseconds; null when it is not such a duration. */
export function parseDurationMs(v: string): number | null {
  const m = /^\s*(\d+)\s*([dhms])?\s*$/.exec(v)
  if (!m) return null
  const n = Number(m[1])
  if (m[2] === undefined) return n === 0 ? 0 : null
  return n * DURATION_UNIT_MS[m[2] as keyof typeof DURATION_UNIT_MS]
}

/** MAX_BLOCK_BYTES's bounds (the schema's, and `maxBlockBytesSetting`'s). */
const MAX_BLOCK_BYTES_RANGE = { min: 1024, max: 256 * 1024 * 1024 }

/**
 * The settings' schema, built on first use: zod (with every locale it
 * bundles) costs ~60 ms to load, which a command that reads no setting
 * (`--help`) or one (`parse`) should not pay.
 */
function buildSchema(z: typeof Zod) {
  const prefix = z
    .string()
    .regex(/^([A-Za-z0-9!_.*'()-]+\/)*$/, 'expected a key prefix such as "logs/" (ending in "/", or empty)')

  const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max)

  /** A Snowflake object name used unquoted: it resolves case-insensitively, as the SQL files' names do. */
  const snowflakeName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,254}$/, 'expected a Snowflake identifier (a letter or _, then letters, digits, _ or $)')
  const snowflakeQualifiedName = z
    .string()
    .regex(/^([A-Za-z_][A-Za-z0-9_$]{0,254}\.){1,2}[A-Za-z_][A-Za-z0-9_$]{0,254}$/, 'expected a schema-qualified Snowflake name such as bronze.careplus_stage')

  /** `a.b.c.d` or `a.b.c.d/n`: what a Snowflake IPV4 network rule takes. */
  function isIpv4Range(v: string): boolean {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(v)
    return !!m && m.slice(1, 5).every((o) => Number(o) <= 255) && (m[5] === undefined || Number(m[5]) <= 32)
  }

  return z.object({
    CAREPLUS_HOME: z.string().min(1),
    WAREHOUSE: z.enum(['duckdb', 'snowflake']),
    S3_BUCKET: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)')
      .optional(),
    S3_ENDPOINT: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    S3_REGION: z.string().regex(/^[a-z0-9-]+$/, 'expected a region such as us-east-1'),
    S3_LOGS_PREFIX: prefix,
    S3_STAGE_PREFIX: prefix,
    S3_MAX_ATTEMPTS: positiveInt(20),
    S3_READ_TIMEOUT_MS: z.coerce.number().int().min(100),
    INGEST_CONCURRENCY: positiveInt(64),
    STAGE_FILE_MAX_BYTES: z.coerce.number().int().min(1024),
    LOAD_BATCH_MAX_OBJECTS: positiveInt(100_000),
    MAX_FAILED_OBJECTS: z.coerce.number().int().min(0),
    MAX_BLOCK_BYTES: z.coerce.number().int().min(MAX_BLOCK_BYTES_RANGE.min).max(MAX_BLOCK_BYTES_RANGE.max),
    MYSQL_HOST: z.string().min(1),
    MYSQL_PORT: z.coerce.number().int().min(1).max(65535),
    MYSQL_DATABASE: z.string().regex(/^[A-Za-z0-9_$]{1,64}$/, 'expected a database name (letters, digits, _ or $)'),
    MYSQL_USER: z.string().min(1),
    MYSQL_PASSWORD: z.string(),
    MYSQL_READ_TIMEOUT_MS: z.coerce.number().int().min(100),
    TICKETS_CURSOR_COLUMN: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'expected a column name').optional(),
    // Milliseconds once parsed; a number is taken as milliseconds (a parsed Config given back to loadConfig).
    TICKETS_LOOKBACK: z.union([z.number(), z.string()]).transform((v, ctx) => {
      const ms = typeof v === 'number' ? v : parseDurationMs(v)
      if (ms === null || !Number.isInteger(ms) || ms < 0 || ms > MAX_LOOKBACK_MS) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration such as 2d, 36h, 90m, 30s or 0 (at most 3650d)' })
        return z.NEVER
      }
      return ms
    }),
    PIPELINE_CRON: z.string().refine((v) => [5, 6].includes(v.trim().split(/\s+/).length), 'expected a cron expression of 5 or 6 fields'),
    PIPELINE_TZ: z.string().refine((tz) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz })
        return true
      } catch {
        return false
      }
    }, 'expected an IANA time zone such as UTC or Europe/Paris'),
    PIPELINE_CATCHUP: z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]),
    PIPELINE_RETRIES: z.coerce.number().int().min(0).max(10),
    PIPELINE_RETRY_DELAY_MS: z.coerce.number().int().min(0),
    PIPELINE_TASK_TIMEOUT_MS: z.coerce.number().int().min(1000),
    PIPELINE_GRACE_MS: z.coerce.number().int().min(0),
    DAEMON_PORT: z.coerce.number().int().min(0).max(65535),
    DAEMON_HOST: z.union([z.ipv4(), z.ipv6(), z.literal('localhost')], { error: 'expected an IP address to bind, e.g. 127.0.0.1 or 0.0.0.0' }),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    SNOWFLAKE_ACCOUNT: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected an account identifier such as myorg-myaccount (no https://, no .snowflakecomputing.com)')
      .refine((v) => !/snowflakecomputing/i.test(v), 'expected the account identifier alone, without .snowflakecomputing.com')
      .optional(),
    SNOWFLAKE_USER: z.string().regex(/^[A-Za-z0-9_.@$-]{1,255}$/, 'expected a user name (letters, digits, _ . @ $ -)').optional(),
    SNOWFLAKE_PASSWORD: z.string().optional(),
    SNOWFLAKE_PRIVATE_KEY_PATH: z.string().optional(),
    SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: z.string().optional(),
    SNOWFLAKE_WAREHOUSE: snowflakeName,
    SNOWFLAKE_DATABASE: snowflakeName,
    SNOWFLAKE_ROLE: snowflakeName,
    SNOWFLAKE_STAGE: snowflakeQualifiedName,
    SNOWFLAKE_STORAGE_INTEGRATION: snowflakeName,
    SNOWFLAKE_AWS_ROLE_ARN: z.string().regex(/^arn:aws[a-z-]*:iam::[0-9]{12}:role\/[A-Za-z0-9+=,.@_\/-]+$/, 'expected an IAM role ARN such as arn:aws:iam::123456789012:role/careplus-snowflake').optional(),
    SNOWFLAKE_ACCESS_URL: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    SNOWFLAKE_LOGIN_TIMEOUT_SECONDS: positiveInt(600),
    // Snowflake's own ranges: 0 means its maximum (7 days) for statements, "never wait" for locks.
    SNOWFLAKE_STATEMENT_TIMEOUT_IN_SECONDS: z.coerce.number().int().min(0).max(604_800),
    SNOWFLAKE_LOCK_TIMEOUT: z.coerce.number().int().min(0).max(604_800),
    SNOWFLAKE_STREAM_IDLE_TIMEOUT_SECONDS: positiveInt(86_400),
    SNOWFLAKE_ALLOWED_IPS: z
      .string()
      .transform((v) => v.split(',').map((x) => x.trim()).filter((x) => x !== ''))
      .refine((list) => list.length > 0 && list.every(isIpv4Range), 'expected comma-separated IPv4 addresses or CIDR ranges, e.g. 203.0.113.7,198.51.100.0/24')
      .optional(),
  })
}

let schema: ReturnType<typeof buildSchema> | undefined

/** The validated settings, as named in the environment. */
export type Settings = Zod.infer<ReturnType<typeof buildSchema>>

export type Config = Settings & {
  /** Absolute path of CAREPLUS_HOME. */
  home: string
  /** True when no S3_BUCKET is configured and the embedded server is used. */
  embeddedS3: boolean
}

/** Names whose values must never be echoed in errors or logs. */
const SECRET_NAMES = /PASSWORD|SECRET|TOKEN|PRIVATE_KEY|PASSPHRASE/

/** Reads `.env` (if any) without touching process.env. */
function readDotenv(cwd: string): Record<string, string> {
  const file = path.join(cwd, '.env')
  return existsSync(file) ? parseDotenv(readFileSync(file)) : {}
}

/** Every setting's value before validation: the environment, then `.env`, then the default. */
function rawSettings(env: NodeJS.ProcessEnv, cwd: string): Record<string, unknown> {
  const merged: Record<string, string | undefined> = { ...readDotenv(cwd), ...env }
  const input: Record<string, unknown> = {}
  for (const [name, fallback] of Object.entries(DEFAULTS)) {
    const raw = merged[name]
    // An empty MYSQL_PASSWORD is a real value (the local default); elsewhere empty means unset.
    input[name] = raw === undefined || (raw === '' && name !== 'MYSQL_PASSWORD') ? fallback : raw
  }
  return input
}

/**
 * MAX_BLOCK_BYTES alone, validated as `loadConfig` does (an integer within
 * MAX_BLOCK_BYTES_RANGE), without the schema: the only setting `careplus
 * parse` reads, so it starts without loading zod.
 */
export function maxBlockBytesSetting(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): number {
  const raw = rawSettings(env, cwd).MAX_BLOCK_BYTES
  const n = typeof raw === 'number' ? raw : String(raw).trim() === '' ? Number.NaN : Number(raw)
  if (!Number.isInteger(n) || n < MAX_BLOCK_BYTES_RANGE.min || n > MAX_BLOCK_BYTES_RANGE.max) {
    throw new PipelineError('ERR_CONFIG', `invalid setting MAX_BLOCK_BYTES: expected an integer from ${MAX_BLOCK_BYTES_RANGE.min} to ${MAX_BLOCK_BYTES_RANGE.max} (got ${JSON.stringify(raw)})`)
  }
  return n
}

/**
 * Validates settings at the edge: a bad value stops the command with one line
 * naming the variable. Inside the program the returned object is trusted.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const input = rawSettings(env, cwd)
  schema ??= buildSchema((createRequire(import.meta.url)('zod') as typeof import('zod')).z)
  const parsed = schema.safeParse(input)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const name = String(issue.path[0])
    const shown = SECRET_NAMES.test(name) ? '' : ` (got ${JSON.stringify(input[name])})`
    throw new PipelineError('ERR_CONFIG', `invalid setting ${name}: ${issue.message}${shown}`)
  }
  const cfg = parsed.data
  if (cfg.WAREHOUSE === 'snowflake') checkSnowflakeSettings(cfg, cwd)
  return {
    ...cfg,
    // The driver reads the key itself, from the process's working directory.
    SNOWFLAKE_PRIVATE_KEY_PATH: cfg.SNOWFLAKE_PRIVATE_KEY_PATH && path.resolve(cwd, cfg.SNOWFLAKE_PRIVATE_KEY_PATH),
    home: path.resolve(cwd, cfg.CAREPLUS_HOME),
    embeddedS3: cfg.S3_BUCKET === undefined,
  }
}

function missing(name: string, why: string): PipelineError {
  return new PipelineError('ERR_CONFIG', `missing setting ${name}: ${why}`)
}

/**
 * What WAREHOUSE=snowflake needs beyond well-formed values: who to log in as
 * (a private key file, or a password), and a real bucket, because Snowflake
 * reads the stage from S3 itself. Exported for `careplus setup`, which needs
 * the same settings whatever WAREHOUSE says.
 */
export function checkSnowflakeSettings(cfg: Settings, cwd = process.cwd(), need: { login?: boolean } = {}): void {
  if (need.login !== false) {
    if (!cfg.SNOWFLAKE_ACCOUNT) throw missing('SNOWFLAKE_ACCOUNT', 'WAREHOUSE=snowflake needs the account identifier (e.g. myorg-myaccount)')
    if (!cfg.SNOWFLAKE_USER) throw missing('SNOWFLAKE_USER', 'WAREHOUSE=snowflake needs the user the pipeline logs in as')
    if (!cfg.SNOWFLAKE_PRIVATE_KEY_PATH && cfg.SNOWFLAKE_PASSWORD === undefined) {
      throw missing('SNOWFLAKE_PRIVATE_KEY_PATH', 'WAREHOUSE=snowflake needs a private key file for key-pair authentication (or SNOWFLAKE_PASSWORD)')
    }
    if (cfg.SNOWFLAKE_PRIVATE_KEY_PATH) {
      const file = path.resolve(cwd, cfg.SNOWFLAKE_PRIVATE_KEY_PATH)
      if (!existsSync(file) || !statSync(file).isFile()) {
        throw new PipelineError('ERR_CONFIG', `invalid setting SNOWFLAKE_PRIVATE_KEY_PATH: no such file ${file}`)
      }
    }
    if (cfg.SNOWFLAKE_PRIVATE_KEY_PASSPHRASE !== undefined && !cfg.SNOWFLAKE_PRIVATE_KEY_PATH) {
      throw missing('SNOWFLAKE_PRIVATE_KEY_PATH', 'SNOWFLAKE_PRIVATE_KEY_PASSPHRASE is set, but no key file to decrypt')
    }
  }
  if (!cfg.S3_BUCKET) throw missing('S3_BUCKET', 'Snowflake loads the stage from S3 through an external stage, so the stage must be in a real bucket')
}
