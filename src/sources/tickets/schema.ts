/**
 * The ticket source: MySQL `support_tickets`, as in the seed. Every column is
 * text there, and bronze keeps the text exactly; only the seed's `IssUeCat`
 * is renamed on the way in. The sample generator and the seeder take their
 * columns from here.
 */
export const SOURCE_TABLE = 'support_tickets'

/** Column names and order of `support_tickets`, as in the seed (including `IssUeCat`). */
export const TICKET_SOURCE_COLUMNS = [
  'ticket_id',
  'created_at',
  'resolved_at',
  'agent',
  'priority',
  'num_interactions',
  'IssUeCat',
  'channel',
  'status',
  'agent_feedback',
] as const

export type TicketSourceColumn = (typeof TICKET_SOURCE_COLUMNS)[number]

/** A source row as mysql2 returns it with `dateStrings`: the server's text, or NULL. */
export type TicketSourceRow = Record<TicketSourceColumn, string | null>

/** The bronze name of a source column: the same, but for the seed's `IssUeCat`. */
export function bronzeColumnOf(c: TicketSourceColumn): string {
  return c === 'IssUeCat' ? 'issue_cat' : c
}

/** bronze.tickets' source columns, in source order. */
export const TICKET_BRONZE_SOURCE_COLUMNS = TICKET_SOURCE_COLUMNS.map(bronzeColumnOf)

/** The seed's table: every column `text`. The key on a prefix of ticket_id makes reseeding idempotent. */
export const SUPPORT_TICKETS_DDL = `CREATE TABLE IF NOT EXISTS ${SOURCE_TABLE} (
  ${TICKET_SOURCE_COLUMNS.map((c) => `${c} text${c === 'ticket_id' ? ' NOT NULL' : ''}`).join(',\n  ')},
  PRIMARY KEY (ticket_id(32))
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin`
