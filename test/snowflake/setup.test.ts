import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { splitStatements } from '../../src/warehouse/sqlFiles.js'
import { formatSetup, runSnowflakeSetup, snowflakeSetup } from '../../src/warehouse/snowflakeSetup.js'
import { SnowflakeWarehouse, snowflakeSettings } from '../../src/warehouse/snowflakeWarehouse.js'
import { provision, SF_ADMIN, snowflakeTestEnv } from '../support/snowflake.js'

/**
 * Issue 14, item 7: the one-time setup with least privilege. USERADMIN
 * makes the role and the user, SYSADMIN the warehouse and the database,
 * SECURITYADMIN the network policy from SNOWFLAKE_ALLOWED_IPS, ACCOUNTADMIN
 * only the storage integration, printed with the IAM policies AWS needs.
 * The endpoint enforces the system roles' account privileges.
 */

/** The JSON document printed in the comment lines after `label`. */
function commentedJson(text: string, label: string): unknown {
  const lines = text.split('\n')
  const start = lines.findIndex((l) => l.includes(label)) + 1
  let json = ''
  for (let i = start; i < lines.length; i++) {
    json += lines[i]!.replace(/^-- ?/, '') + '\n'
    try {
      return JSON.parse(json)
    } catch {
      // not complete yet
    }
  }
  throw new Error(`no JSON after ${label}`)
}

t.test('setup --print: each administrator step under the least role that can do it; the network policy; the IAM policies', async (t) => {
  const sf = await snowflakeTestEnv(t, { provision: false, env: { SNOWFLAKE_ALLOWED_IPS: '127.0.0.1/32, 203.0.113.7' } })
  const text = formatSetup(snowflakeSetup(sf.cfg))
  const statements = splitStatements(text)
  const adminPart = statements.slice(0, statements.indexOf('USE ROLE CAREPLUS_ROLE'))
  t.same(
    adminPart.filter((s) => s.startsWith('USE ROLE ')),
    ['USE ROLE USERADMIN', 'USE ROLE SYSADMIN', 'USE ROLE SECURITYADMIN', 'USE ROLE ACCOUNTADMIN'],
    'USERADMIN, SYSADMIN, SECURITYADMIN, and ACCOUNTADMIN last',
  )
  const roleOf = (prefix: string) => {
    const at = adminPart.findIndex((s) => s.startsWith(prefix))
    return adminPart.slice(0, at).filter((s) => s.startsWith('USE ROLE ')).at(-1)
  }
  t.equal(roleOf('CREATE ROLE IF NOT EXISTS CAREPLUS_ROLE'), 'USE ROLE USERADMIN')
  t.equal(roleOf('CREATE USER IF NOT EXISTS CAREPLUS_SVC'), 'USE ROLE USERADMIN')
  t.equal(roleOf('CREATE WAREHOUSE IF NOT EXISTS CAREPLUS_WH'), 'USE ROLE SYSADMIN')
  t.equal(roleOf('CREATE DATABASE IF NOT EXISTS CAREPLUS'), 'USE ROLE SYSADMIN')
  t.equal(roleOf('CREATE NETWORK POLICY'), 'USE ROLE SECURITYADMIN')
  t.same(
    adminPart.slice(adminPart.indexOf('USE ROLE ACCOUNTADMIN') + 1).map((s) => s.split('\n')[0]),
    ['CREATE STORAGE INTEGRATION IF NOT EXISTS CAREPLUS_S3', 'GRANT USAGE ON INTEGRATION CAREPLUS_S3 TO ROLE CAREPLUS_ROLE', 'DESC INTEGRATION CAREPLUS_S3'],
    'ACCOUNTADMIN only for the storage integration',
  )
  t.ok(statements.includes("CREATE NETWORK RULE IF NOT EXISTS CAREPLUS.NETWORK.CAREPLUS_ALLOWED_IPS\n  TYPE = IPV4\n  MODE = INGRESS\n  VALUE_LIST = ('127.0.0.1/32', '203.0.113.7')"), 'a network rule from SNOWFLAKE_ALLOWED_IPS')
  t.ok(statements.includes("CREATE NETWORK POLICY IF NOT EXISTS CAREPLUS_NETWORK_POLICY\n  ALLOWED_NETWORK_RULE_LIST = ('CAREPLUS.NETWORK.CAREPLUS_ALLOWED_IPS')"))
  t.ok(statements.includes('ALTER USER CAREPLUS_SVC SET NETWORK_POLICY = CAREPLUS_NETWORK_POLICY'))
  t.ok(statements.includes("CREATE OR REPLACE STAGE bronze.careplus_stage\n  URL = 's3://careplus/stage/'\n  STORAGE_INTEGRATION = careplus_s3\n  FILE_FORMAT = (FORMAT_NAME = 'bronze.careplus_csv')"), 'the stage names its file format with FORMAT_NAME')

  t.same(commentedJson(text, 'this permissions policy'), {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: 'arn:aws:s3:::careplus/stage/*' },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::careplus', Condition: { StringLike: { 's3:prefix': ['stage/*'] } } },
      { Effect: 'Allow', Action: 's3:GetBucketLocation', Resource: 'arn:aws:s3:::careplus' },
    ],
  }, 'the IAM permissions policy: read the stage prefix only')
  t.match(commentedJson(text, 'this trust policy'), { Statement: [{ Principal: { AWS: '<STORAGE_AWS_IAM_USER_ARN>' }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': '<STORAGE_AWS_EXTERNAL_ID>' } } }] }, 'next to the trust policy')

  // The administrator runs it through snowflake-sdk; the endpoint refuses what a role may not do.
  const admin = await SnowflakeWarehouse.open({ ...snowflakeSettings(sf.cfg), user: SF_ADMIN.user, password: SF_ADMIN.password, privateKeyPath: undefined, privateKeyPassphrase: undefined, role: 'ACCOUNTADMIN' })
  t.teardown(() => admin.close())
  const from = sf.endpoint.statements.length
  for (const sql of adminPart) await admin.run(sql)
  const ran = sf.endpoint.statements.slice(from)
  const asRole = (prefix: string) => ran.find((s) => s.sql.startsWith(prefix))?.role
  t.equal(asRole('CREATE ROLE'), 'USERADMIN')
  t.equal(asRole('CREATE WAREHOUSE'), 'SYSADMIN')
  t.equal(asRole('CREATE NETWORK RULE'), 'SECURITYADMIN')
  t.equal(asRole('CREATE STORAGE INTEGRATION'), 'ACCOUNTADMIN')
  t.same(ran.filter((s) => s.role === 'ACCOUNTADMIN' && adminPart.includes(s.sql)).map((s) => s.sql.split('\n')[0]), ['USE ROLE USERADMIN', 'CREATE STORAGE INTEGRATION IF NOT EXISTS CAREPLUS_S3', 'GRANT USAGE ON INTEGRATION CAREPLUS_S3 TO ROLE CAREPLUS_ROLE', 'DESC INTEGRATION CAREPLUS_S3'], 'nothing else ran as ACCOUNTADMIN')
  await admin.run('USE ROLE SYSADMIN')
  await t.rejects(admin.run("CREATE STORAGE INTEGRATION x TYPE = EXTERNAL_STAGE STORAGE_PROVIDER = 'S3' STORAGE_ALLOWED_LOCATIONS = ('s3://careplus/')"), { message: /^Snowflake 003001 \(42501\): SQL access control error: Insufficient privileges to operate on account 'CAREPLUS-TEST'/ }, 'SYSADMIN may not create an integration')

  // The pipeline's part, as the service user, from an allowed address.
  await runSnowflakeSetup(sf.cfg)
  t.match(sf.endpoint.logins.at(-1), { user: 'careplus_svc', ok: true }, 'the service user logs in from 127.0.0.1')
})

t.test('a login from outside SNOWFLAKE_ALLOWED_IPS is refused by the network policy', async (t) => {
  const sf = await snowflakeTestEnv(t, { provision: false, env: { SNOWFLAKE_ALLOWED_IPS: '10.0.0.0/8' } })
  await t.rejects(provision(sf.cfg), { code: 'ERR_SNOWFLAKE_LOGIN', message: /Incoming request with IP\/Token 127\.0\.0\.1 is not allowed to access Snowflake.* \(390422\)$/ })
  t.match(sf.endpoint.logins.at(-1), { user: 'careplus_svc', ok: false, code: '390422' })
})

t.test('without SNOWFLAKE_ALLOWED_IPS no policy is printed, and the script says how to add one; bad values are refused', async (t) => {
  const sf = await snowflakeTestEnv(t, { provision: false })
  const text = formatSetup(snowflakeSetup(sf.cfg))
  t.notMatch(text, /NETWORK (RULE|POLICY)|USE ROLE SECURITYADMIN/)
  t.match(text, /-- No network policy: CAREPLUS_SVC may log in from any address\. Set SNOWFLAKE_ALLOWED_IPS/)
  for (const bad of ['10.0.0.0/33', '300.1.1.1', 'example.com', ',']) {
    t.throws(() => loadConfig({ SNOWFLAKE_ALLOWED_IPS: bad }, sf.home), { code: 'ERR_CONFIG', message: /^invalid setting SNOWFLAKE_ALLOWED_IPS: expected comma-separated IPv4 addresses or CIDR ranges/ }, bad)
  }
})
