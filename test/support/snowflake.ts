import '../../src/processSetup.js'
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Test } from 'tap'
import { loadConfig, type Config } from '../../src/config.js'
import { startEmbeddedS3, EMBEDDED_CREDENTIALS, type EmbeddedS3 } from '../../src/s3/embeddedS3.js'
import { storeFor, type ObjectStore } from '../../src/s3/objectStore.js'
import { runSnowflakeSetup, snowflakeSetup } from '../../src/warehouse/snowflakeSetup.js'
import { SnowflakeWarehouse, snowflakeSettings } from '../../src/warehouse/snowflakeWarehouse.js'
import { startSnowflakeEndpoint, type SnowflakeEndpoint, type SnowflakeEndpointOptions } from './snowflakeEndpoint.js'

export const SF_ACCOUNT = 'careplus-test'
/** The endpoint's administrator, who runs the printed admin SQL (password login). */
export const SF_ADMIN = { user: 'sf_admin', password: 'admin-secret-1' }
export const PRIVATE_KEY_PASSPHRASE = 'key-passphrase-7'

export interface SnowflakeTestEnv {
  home: string
  server: EmbeddedS3
  /** The stage bucket, as the pipeline (and the DAG's workers) reach it. */
  store: ObjectStore
  endpoint: SnowflakeEndpoint
  /** The environment the pipeline runs with: WAREHOUSE=snowflake, key-pair login, the endpoint as SNOWFLAKE_ACCESS_URL. */
  env: Record<string, string>
  cfg: Config
  keyPath: string
}

/**
 * A Snowflake account to test against, without one: the loopback endpoint
 * (DuckDB behind Snowflake's protocol) reading the stage from a real
 * embedded S3 server. With `provision` (the default) the account is set up
 * the way production is: the admin SQL `careplus setup --print` prints, run
 * through snowflake-sdk as the administrator, then `careplus setup`'s part
 * as the pipeline's key-pair user.
 */
export async function snowflakeTestEnv(
  t: Test,
  opts: { env?: Record<string, string>; provision?: boolean; endpoint?: Partial<SnowflakeEndpointOptions> } = {},
): Promise<SnowflakeTestEnv> {
  const home = t.testdir()
  const server = await startEmbeddedS3({ dir: path.join(home, 's3') })
  const store = storeFor({ endpoint: server.endpoint, bucket: server.bucket, region: 'us-east-1', credentials: EMBEDDED_CREDENTIALS, embedded: server })
  const endpoint = await startSnowflakeEndpoint({
    account: SF_ACCOUNT,
    users: { [SF_ADMIN.user]: { password: SF_ADMIN.password } },
    s3: { endpoint: server.endpoint, credentials: EMBEDDED_CREDENTIALS },
    ...opts.endpoint,
  })
  t.teardown(async () => {
    await endpoint.close()
    await store.close()
  })

  // The service user's key pair, an encrypted PKCS#8 file as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it.
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PRIVATE_KEY_PASSPHRASE },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  })
  const keyPath = path.join(home, 'rsa_key.p8')
  writeFileSync(keyPath, privateKey, { mode: 0o600 })

  const env: Record<string, string> = {
    CAREPLUS_HOME: home,
    LOG_LEVEL: 'silent',
    WAREHOUSE: 'snowflake',
    S3_BUCKET: server.bucket,
    S3_ENDPOINT: server.endpoint,
    AWS_ACCESS_KEY_ID: EMBEDDED_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: EMBEDDED_CREDENTIALS.secretAccessKey,
    SNOWFLAKE_ACCOUNT: SF_ACCOUNT,
    SNOWFLAKE_USER: 'careplus_svc',
    SNOWFLAKE_PRIVATE_KEY_PATH: keyPath,
    SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: PRIVATE_KEY_PASSPHRASE,
    SNOWFLAKE_AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/careplus-snowflake-stage',
    SNOWFLAKE_ACCESS_URL: endpoint.url,
    ...opts.env,
  }
  const cfg = loadConfig(env, home)
  if (opts.provision !== false) await provision(cfg)
  return { home, server, store, endpoint, env, cfg, keyPath }
}

/** The administrator's part of the printed setup, through snowflake-sdk, then the pipeline's part (`careplus setup`). */
export async function provision(cfg: Config): Promise<void> {
  const admin = await SnowflakeWarehouse.open({
    ...snowflakeSettings(cfg),
    user: SF_ADMIN.user,
    password: SF_ADMIN.password,
    privateKeyPath: undefined,
    privateKeyPassphrase: undefined,
    role: 'ACCOUNTADMIN',
  })
  try {
    for (const s of snowflakeSetup(cfg).admin) await admin.run(s.sql)
  } finally {
    await admin.close()
  }
  await runSnowflakeSetup(cfg)
}

/** A Snowflake warehouse of the test account, as the pipeline opens it, closed when the test ends. */
export async function openTestWarehouse(t: Test, cfg: Config): Promise<SnowflakeWarehouse> {
  const wh = await SnowflakeWarehouse.open(snowflakeSettings(cfg))
  t.teardown(() => wh.close())
  return wh
}
