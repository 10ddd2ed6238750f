import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { IS_OPEN, LATEST_VERSION_ORDER } from '../../../src/sources/tickets/cursor.js'

const STG_TICKETS = readFileSync(path.resolve(import.meta.dirname, '../../../sql/models/silver/stg_tickets.sql'), 'utf8')
const squash = (s: string): string => s.replace(/\s+/g, ' ')

t.test('the ingest and silver agree on which version is latest and which ticket is open', async (t) => {
  t.ok(squash(STG_TICKETS).includes(`ORDER BY ${LATEST_VERSION_ORDER})`), `stg_tickets orders versions by ${LATEST_VERSION_ORDER}`)
  t.ok(squash(STG_TICKETS).includes(`${IS_OPEN} AS is_open`), `stg_tickets' is_open is ${IS_OPEN}`)
})
