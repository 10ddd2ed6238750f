import t from 'tap'
import { isErrorCode, isTransient, PipelineError } from '../src/errors.js'
import { mysqlError } from '../src/sources/mysql.js'

const sys = (code: string, extra: object = {}) => Object.assign(new Error(code), { code, ...extra })
const MYSQL = { host: '127.0.0.1', port: 1, user: 'root', password: 'pw' }

t.test('raw driver errors: network faults, throttling, 5xx and locks are transient; the rest is not', async (t) => {
  for (const code of ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'PROTOCOL_CONNECTION_LOST', 'ER_LOCK_WAIT_TIMEOUT']) t.ok(isTransient(sys(code)), code)
  t.ok(isTransient(Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } })), 'S3 SlowDown')
  t.ok(isTransient(Object.assign(new Error('x'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } })), 'S3 5xx')
  t.ok(isTransient(Object.assign(new Error('slow'), { name: 'Throttling' })), 'throttling by name')
  t.notOk(isTransient(Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } })), 'S3 403')
  t.ok(isTransient(new Error('IO Error: Could not set lock on file "w.duckdb": Conflicting lock is held')), 'DuckDB lock')
  t.notOk(isTransient(sys('ECONNREFUSED')), 'refused: the address is wrong or the server is down for good')
  t.notOk(isTransient(sys('ER_ACCESS_DENIED_ERROR')))
  t.notOk(isTransient(new TypeError('bug')), 'an error without a code is a bug')
  t.notOk(isTransient(Object.assign(new Error('aborted'), { name: 'AbortError' })))
  t.notOk(isTransient(null))
  t.notOk(isTransient('ECONNRESET'))
})

t.test('PipelineErrors by their code, or by the driver error they wrap', async (t) => {
  t.notOk(isTransient(new PipelineError('ERR_CONFIG', 'bad')))
  t.notOk(isTransient(new PipelineError('ERR_DATA_TEST', 'failed')))
  t.notOk(isTransient(new PipelineError('ERR_SNOWFLAKE_LOGIN', 'no')))
  t.notOk(isTransient(new PipelineError('ERR_LOAD_RECONCILE', 'no')))
  t.ok(isTransient(new PipelineError('ERR_WAREHOUSE_LOCKED', 'held')))
  t.ok(isTransient(new PipelineError('ERR_TASK_TIMEOUT', 'slow')))
  t.ok(isTransient(mysqlError(sys('PROTOCOL_CONNECTION_LOST'), MYSQL, 'lost the extraction from')), 'MySQL connection lost')
  t.notOk(isTransient(mysqlError(sys('ECONNREFUSED'), MYSQL)), 'MySQL refused: a setting')
  t.notOk(isTransient(mysqlError(sys('ER_BAD_FIELD_ERROR'), MYSQL)), 'a missing column')
  t.notOk(isTransient(mysqlError(sys('ER_ACCESS_DENIED_ERROR'), MYSQL)), 'a bad password')
  t.ok(isTransient(new PipelineError('ERR_S3', 'x', { cause: sys('ECONNRESET') })))
  t.notOk(isTransient(new PipelineError('ERR_WAREHOUSE', 'x', { cause: new Error('Binder Error: column x not found') })))
  t.ok(isTransient(new PipelineError('ERR_WAREHOUSE', 'x', { transient: true })), 'a class decided where the error happened wins')
  t.ok(isTransient(Object.assign(new Error('wrapped'), { cause: sys('EPIPE') })), 'a plain wrapper: its cause decides')
  t.ok(isErrorCode('ERR_MYSQL'))
  t.notOk(isErrorCode('ERR_NOPE'))
})
