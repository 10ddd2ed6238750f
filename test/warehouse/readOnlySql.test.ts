import t from 'tap'
import { assertReadOnlySql } from '../../src/warehouse/readOnlySql.js'

t.test('reads pass', async (t) => {
  for (const sql of [
    'select 1',
    '  WITH x AS (SELECT 1 AS a) SELECT * FROM x;',
    "SELECT 'DELETE FROM t; DROP TABLE x' AS s",
    'SELECT "update" FROM t -- delete everything\n',
    '/* insert */ SHOW TABLES',
    "SELECT 'it''s' AS s",
    'SELECT $$ drop table $$ AS s',
    'DESCRIBE gold.fct_tickets',
  ]) {
    t.doesNotThrow(() => assertReadOnlySql(sql), sql)
  }
})

t.test('writes, several statements and tricks are refused', async (t) => {
  for (const [sql, why] of [
    ['DELETE FROM t', /DELETE is not a read statement/],
    ['SELECT 1; DROP TABLE t', /one statement at a time/],
    ['WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x', /INSERT writes/],
    ['SELECT * FROM t; ', null],
    ['', /empty/],
    ['-- only a comment', /empty/],
    ["SELECT 'open", /unterminated quote/],
    ['SELECT $$ open', /unterminated \$\$/],
    ['CALL system$wait(10)', /CALL is not a read/],
    ['SELECT 1 /* */ ; USE ROLE accountadmin', /one statement/],
  ] as const) {
    if (why === null) t.doesNotThrow(() => assertReadOnlySql(sql), 'a trailing ; is fine')
    else t.throws(() => assertReadOnlySql(sql), { code: 'ERR_READ_ONLY', message: why }, sql)
  }
})
