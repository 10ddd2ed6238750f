import t from 'tap'
import { parseLogicalDate, scheduleSlots, MAX_BACKFILL_SLOTS } from '../../src/dag/backfill.js'

t.test('the slots of a range, both ends included; a date as the end means all of that day', async (t) => {
  const slots = scheduleSlots('0 2 * * *', 'UTC', parseLogicalDate('2026-01-01', 'from'), parseLogicalDate('2026-01-03', 'to', true))
  t.same(slots.map((s) => s.toISOString()), ['2026-01-01T02:00:00.000Z', '2026-01-02T02:00:00.000Z', '2026-01-03T02:00:00.000Z'])
  const exact = scheduleSlots('0 2 * * *', 'UTC', new Date('2026-01-01T02:00:00Z'), new Date('2026-01-02T02:00:00Z'))
  t.equal(exact.length, 2, 'a slot at either end is included')
  const paris = scheduleSlots('0 2 * * *', 'Europe/Paris', parseLogicalDate('2026-07-01', 'from'), parseLogicalDate('2026-07-01', 'to', true))
  t.same(paris.map((s) => s.toISOString()), ['2026-07-01T00:00:00.000Z'], '02:00 in Paris in summer')
})

t.test('bad ranges and dates are usage errors', async (t) => {
  t.throws(() => scheduleSlots('0 2 * * *', 'UTC', new Date('2026-01-05'), new Date('2026-01-01')), { code: 'ERR_USAGE', message: /before --from/ })
  t.throws(() => scheduleSlots('* * * * *', 'UTC', new Date('2026-01-01'), new Date('2026-02-01')), { code: 'ERR_USAGE', message: new RegExp(`more than ${MAX_BACKFILL_SLOTS}`) })
  for (const bad of ['yesterday', '2026-13-45', '2026-02-30T99:00', 5, undefined]) t.throws(() => parseLogicalDate(bad, '--from'), { code: 'ERR_USAGE' }, String(bad))
  t.equal(parseLogicalDate('2026-02-01T03:04:05Z', 'x').toISOString(), '2026-02-01T03:04:05.000Z')
})
