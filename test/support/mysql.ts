import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import type { Connection } from 'mysql2'
import { closeMysql, connectMysql, queryMysql } from '../../src/sources/mysql.js'
import { SUPPORT_TICKETS_DDL, TICKET_SOURCE_COLUMNS } from '../../src/sources/tickets/schema.js'

export const MYSQL = { host: process.env.MYSQL_HOST ?? '127.0.0.1', port: Number(process.env.MYSQL_PORT ?? 3306), user: process.env.MYSQL_USER ?? 'root', password: process.env.MYSQL_PASSWORD ?? '' }

/** A database of its own for one test, dropped when the test ends. */
export async function testDatabase(t: Test): Promise<{ database: string; conn: Connection; q: <T = Record<string, unknown>>(sql: string, values?: unknown[]) => Promise<T[]> }> {
  const database = `careplus_test_${randomBytes(4).toString('hex')}`
  const admin = await connectMysql(MYSQL)
  await queryMysql(admin, `CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
  const conn = await connectMysql({ ...MYSQL, database })
  t.teardown(async () => {
    await closeMysql(conn)
    await queryMysql(admin, `DROP DATABASE IF EXISTS \`${database}\``)
    await closeMysql(admin)
  })
  return { database, conn, q: (sql, values = []) => queryMysql(conn, sql, values) }
}

export function mysqlEnv(database: string): Record<string, string> {
  return { MYSQL_HOST: MYSQL.host, MYSQL_PORT: String(MYSQL.port), MYSQL_USER: MYSQL.user, MYSQL_PASSWORD: MYSQL.password, MYSQL_DATABASE: database }
}

/**
 * Creates `support_tickets` and fills it with `n` generated tickets,
 * `<prefix>0000001`…, created on 2025-07-01…28 at noon, each with ~100 bytes
 * of notes: the big tables of the kill and fault tests, made by MariaDB
 * itself (its seq_1_to_N table) in one statement.
 */
export async function fillSupportTickets(q: (sql: string) => Promise<unknown>, prefix: string, n: number): Promise<void> {
  await q(SUPPORT_TICKETS_DDL)
  await q(`INSERT INTO support_tickets (${TICKET_SOURCE_COLUMNS.join(', ')})
           SELECT concat('${prefix}', lpad(seq, 7, '0')), concat('2025-07-', lpad(1 + seq % 28, 2, '0'), ' 12:00:00'), NULL, 'Ann', 'Low', '1', 'Billing', 'Chat', 'Open',
                  concat(md5(seq), md5(seq + 1), md5(seq + 2))
           FROM seq_1_to_${n}`)
}
