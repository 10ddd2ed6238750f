import { PipelineError } from '../errors.js'

/** Keywords that start or contain a write, a session change or a procedure call. */
const WRITES = new Set([
  'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'TRUNCATE', 'CREATE', 'ALTER', 'DROP', 'UNDROP', 'COPY', 'PUT', 'GET', 'REMOVE', 'RM',
  'GRANT', 'REVOKE', 'CALL', 'EXECUTE', 'USE', 'SET', 'UNSET', 'BEGIN', 'COMMIT', 'ROLLBACK', 'ATTACH', 'DETACH', 'INSTALL', 'LOAD', 'EXPORT', 'IMPORT', 'PRAGMA', 'VACUUM', 'CHECKPOINT',
])
const READ_STARTS = new Set(['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'VALUES', 'FROM', 'TABLE'])

export function readOnlyError(why: string): PipelineError {
  return new PipelineError('ERR_READ_ONLY', `the daemon answers read-only queries only: ${why} (run writes with the daemon stopped, or as part of a run)`)
}

/**
 * The words of `sql` outside comments, string literals and quoted
 * identifiers, and the `;` between statements.
 */
function tokens(sql: string): string[] {
  const out: string[] = []
  let i = 0
  while (i < sql.length) {
    const c = sql[i]!
    if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i)
      i = nl < 0 ? sql.length : nl + 1
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2)
      i = end < 0 ? sql.length : end + 2
    } else if (c === "'" || c === '"' || c === '`') {
      // A doubled quote inside is an escaped one; the loop skips both.
      let j = i + 1
      for (;;) {
        const k = sql.indexOf(c, j)
        if (k < 0) throw readOnlyError('an unterminated quote')
        if (sql[k + 1] === c) j = k + 2
        else {
          i = k + 1
          break
        }
      }
    } else if (c === '$' && sql[i + 1] === '$') {
      const end = sql.indexOf('$$', i + 2)
      if (end < 0) throw readOnlyError('an unterminated $$ string')
      i = end + 2
    } else if (c === ';') {
      out.push(';')
      i++
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j]!)) j++
      out.push(sql.slice(i, j).toUpperCase())
      i = j
    } else i++
  }
  while (out.at(-1) === ';') out.pop()
  return out
}

/**
 * The check for engines that cannot say a statement's type before running it
 * (Snowflake): one statement, starting like a read, naming no write keyword
 * anywhere outside literals. It rejects some reads (a column named `update`
 * unquoted), never a write.
 */
export function assertReadOnlySql(sql: string): void {
  const words = tokens(sql)
  if (words.length === 0) throw readOnlyError('the query is empty')
  if (words.includes(';')) throw readOnlyError('send one statement at a time')
  if (!READ_STARTS.has(words[0]!)) throw readOnlyError(`${words[0]} is not a read statement`)
  const write = words.find((w) => WRITES.has(w))
  if (write) throw readOnlyError(`${write} writes or changes the session`)
}
