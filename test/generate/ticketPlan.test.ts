import t from 'tap'
import { createPrng, weightedTable } from '../../src/generate/prng.js'
import {
  formatTimestamp,
  parseTimestamp,
  planTickets,
  type TicketRow,
} from '../../src/generate/ticketPlan.js'
import { TICKET_SOURCE_COLUMNS as TICKET_COLUMNS } from '../../src/sources/tickets/schema.js'

const rows: TicketRow[] = [...planTickets({ seed: 42 })]
const count = (pred: (r: TicketRow) => boolean) => rows.filter(pred).length

t.test('810 tickets over July 2025, sorted, with well-formed unique ids', async (t) => {
  t.equal(rows.length, 810)
  const ids = new Set(rows.map((r) => r.ticket_id))
  t.equal(ids.size, 810, 'ids are unique')

  const perDay = new Map<string, TicketRow[]>()
  for (const r of rows) {
    const m = /^TCK(\d{2})(\d{2})(\d{3})$/.exec(r.ticket_id)
    if (!m || r.created_at.slice(0, 10) !== `2025-${m[1]}-${m[2]}`) {
      t.fail(`${r.ticket_id} is not TCK + MMDD of created_at ${r.created_at} + seq`)
    }
    const day = r.created_at.slice(0, 10)
    perDay.set(day, [...(perDay.get(day) ?? []), r])
  }
  t.equal(perDay.size, 31, 'every day of July has tickets')
  t.same([...perDay.keys()][0], '2025-07-01')
  t.same([...perDay.keys()][30], '2025-07-31')
  for (const [day, dayRows] of perDay) {
    t.ok(dayRows.length >= 15 && dayRows.length <= 40, `${day}: ${dayRows.length} tickets (~26 a day)`)
    t.same(
      dayRows.map((r) => r.ticket_id.slice(-3)),
      dayRows.map((_, i) => String(i).padStart(3, '0')),
      `${day}: sequence runs 000, 001, … in creation order`,
    )
  }
  for (let i = 1; i < rows.length; i++) {
    if ((rows[i - 1] as TicketRow).created_at > (rows[i] as TicketRow).created_at) {
      t.fail(`not sorted at ${i}`)
    }
  }
})

t.test('every column is present, in seed order, as MySQL text or NULL', async (t) => {
  t.same(TICKET_COLUMNS, [
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
  ])
  const columnOrder = JSON.stringify(TICKET_COLUMNS)
  for (const r of rows) {
    if (JSON.stringify(Object.keys(r)) !== columnOrder) t.fail(`${r.ticket_id} has columns ${Object.keys(r)}`)
    for (const col of TICKET_COLUMNS) {
      const v = r[col]
      if (v !== null && typeof v !== 'string') t.fail(`${r.ticket_id}.${col} is ${typeof v}`)
    }
    if (!/^2025-07-\d{2} \d{2}:\d{2}:\d{2}$/.test(r.created_at)) t.fail(`${r.ticket_id} created_at ${r.created_at}`)
  }
  t.equal(rows.filter((r) => r.created_at === null || r.ticket_id === null).length, 0, 'ids and creation times never NULL')
  t.same(new Set(rows.map((r) => r.channel)), new Set(['Chat', 'Phone', 'Web Form']))
  t.ok(new Set(rows.map((r) => r.agent)).size >= 8, 'a team of agents')
  t.ok(new Set(rows.map((r) => r.IssUeCat)).size >= 6, 'several issue categories')
})

t.test('the seed dirt is present at a few percent', async (t) => {
  t.same(new Set(rows.map((r) => r.priority)), new Set(['High', 'Medium', 'Low', 'Hgh', 'Medum', 'Lw']))
  for (const dirty of ['Lw', 'Medum', 'Hgh']) {
    const n = count((r) => r.priority === dirty)
    t.ok(n >= 8 && n <= 50, `priority ${dirty}: ${n} of 810`)
  }
  const invalid = count((r) => r.num_interactions === '-999999')
  t.ok(invalid >= 8 && invalid <= 50, `num_interactions -999999: ${invalid} of 810`)
  for (const r of rows) {
    if (r.num_interactions !== '-999999' && !/^[1-9]\d*$/.test(r.num_interactions)) {
      t.fail(`${r.ticket_id}: num_interactions ${r.num_interactions}`)
    }
  }
})

t.test('open tickets have no resolved_at; resolution times span every bucket', async (t) => {
  const open = rows.filter((r) => r.resolved_at === null)
  t.ok(open.length >= 20 && open.length <= 150, `${open.length} open tickets`)
  t.same(new Set(open.map((r) => r.status)), new Set(['Open']))
  t.same(new Set(rows.filter((r) => r.resolved_at !== null).map((r) => r.status)), new Set(['Resolved']))

  const buckets = { under1h: 0, under1day: 0, under3days: 0, over3days: 0 }
  for (const r of rows) {
    if (r.resolved_at === null) continue
    if (!/^2025-(07|08)-\d{2} \d{2}:\d{2}:\d{2}$/.test(r.resolved_at)) t.fail(`${r.ticket_id} resolved_at ${r.resolved_at}`)
    const minutes = (parseTimestamp(r.resolved_at) - parseTimestamp(r.created_at)) / 60
    if (!(minutes > 0)) t.fail(`${r.ticket_id} resolved at or before creation`)
    if (minutes < 60) buckets.under1h++
    else if (minutes < 24 * 60) buckets.under1day++
    else if (minutes < 72 * 60) buckets.under3days++
    else buckets.over3days++
  }
  for (const [bucket, n] of Object.entries(buckets)) t.ok(n >= 30, `${bucket}: ${n}`)
})

t.test('agent_feedback holds every awkward thing', async (t) => {
  const texts = rows.map((r) => r.agent_feedback).filter((f): f is string => f !== null)
  const has = (re: RegExp) => texts.filter((f) => re.test(f)).length
  t.ok(count((r) => r.agent_feedback === null) > 0, 'null')
  t.ok(count((r) => r.agent_feedback === '') > 0, 'empty string')
  t.ok(has(/"/) > 0, 'double quote')
  t.ok(has(/,/) > 0, 'comma')
  t.ok(has(/\n/) > 0, 'newline')
  t.ok(has(/\r\n/) > 0, 'CRLF')
  t.ok(has(/\\/) > 0, 'backslash')
  t.ok(has(/é/) > 0, 'é')
  t.ok(has(/ü/) > 0, 'ü')
  t.ok(has(/—/) > 0, 'em dash')
  t.ok(has(/\p{Extended_Pictographic}/u) > 0, 'emoji')
  t.ok(has(/^[\x20-\x7e]+$/) > 300, 'most feedback is plain ASCII')
})

t.test('deterministic per seed and options', async (t) => {
  t.equal(JSON.stringify([...planTickets({ seed: 42 })]), JSON.stringify(rows), 'same seed, same rows')
  const other = [...planTickets({ seed: 43 })]
  t.equal(other.length, 810)
  t.not(JSON.stringify(other), JSON.stringify(rows), 'another seed, other rows')
  t.not(JSON.stringify(other.map((r) => r.created_at)), JSON.stringify(rows.map((r) => r.created_at)), 'other times')

  const feb = [...planTickets({ seed: 1, count: 56, year: 2024, month: 2 })]
  t.equal(feb.length, 56)
  t.equal((feb[0] as TicketRow).ticket_id.slice(0, 5), 'TCK02')
  t.ok(feb.every((r) => r.created_at.startsWith('2024-02-')))
  t.ok(feb.some((r) => r.created_at.startsWith('2024-02-29')), 'leap day gets tickets')
  t.same([...planTickets({ seed: 1, count: 0 })], [])
})

t.test('bad options throw', async (t) => {
  t.throws(() => [...planTickets({ seed: 1, count: -1 })], RangeError)
  t.throws(() => [...planTickets({ seed: 1.5 })], RangeError)
  t.throws(() => [...planTickets({ seed: 1, month: 13 })], RangeError)
  const big = [...planTickets({ seed: 1, count: 40_000 })]
  t.equal(big.length, 40_000, 'past 1,000 a day the daily sequence widens')
  t.equal(new Set(big.map((r) => r.ticket_id)).size, 40_000)
  t.match(big[0]!.ticket_id, /^TCK0701\d{4}$/)
})

t.test('timestamp helpers round-trip in UTC', async (t) => {
  t.equal(formatTimestamp(Date.UTC(2025, 6, 1, 0, 21, 0) / 1000), '2025-07-01 00:21:00')
  t.equal(parseTimestamp('2025-07-31 23:59:59'), Date.UTC(2025, 6, 31, 23, 59, 59) / 1000)
  t.throws(() => parseTimestamp('2025-07-31T23:59:59Z'), RangeError)
})

t.test('prng is seeded and its helpers stay in range', async (t) => {
  const a = createPrng(7)
  const b = createPrng(7)
  const seqA = Array.from({ length: 5 }, () => a.uint32())
  t.same(seqA, Array.from({ length: 5 }, () => b.uint32()))
  t.notSame(seqA, Array.from({ length: 5 }, () => createPrng(8).uint32()))
  t.notSame(createPrng(7, 'x').uint32(), createPrng(7, 'y').uint32())

  const rng = createPrng(1)
  const ints = new Set<number>()
  for (let i = 0; i < 2000; i++) ints.add(rng.int(3, 6))
  t.same([...ints].sort(), [3, 4, 5, 6])
  const table = weightedTable([['rare', 1], ['common', 99], ['never', 0]] as const)
  const picks = Array.from({ length: 5000 }, () => rng.weighted(table))
  const rare = picks.filter((p) => p === 'rare').length
  t.ok(rare > 20 && rare < 100, `rare picked ${rare} of 5000`)
  t.notOk(picks.includes('never'))
  t.match(rng.hex(32), /^[0-9a-f]{32}$/)
})
