import t from 'tap'
import { windowStart } from '../../../src/sources/tickets/lookback.js'

t.test('the window starts TICKETS_LOOKBACK below the watermark, in the server\'s text', async (t) => {
  const day = 86_400_000
  t.equal(windowStart('2025-07-31 23:59:59', 2 * day, 'created_at'), '2025-07-29 23:59:59')
  t.equal(windowStart('2025-03-01 01:00:00', 36 * 3_600_000, 'created_at'), '2025-02-27 13:00:00', 'across a month end')
  t.equal(windowStart('2024-03-01', day, 'created_at'), '2024-02-29 00:00:00', 'a date alone, a leap year')
  t.equal(windowStart('2025-07-31 10:00:00.750', 1000, 'updated_at'), '2025-07-31 09:59:59', 'a fraction is dropped: the bound only widens')
  t.equal(windowStart('2025-07-31T10:00:00', 60_000, 'updated_at'), '2025-07-31 09:59:00')
  t.equal(windowStart('12345', 0, 'seq'), '12345', 'no window: the watermark itself, whatever its type')
  t.throws(() => windowStart('12345', day, 'seq'), { code: 'ERR_CONFIG', message: /TICKETS_LOOKBACK needs a date-time cursor, but the watermark of seq is "12345"/ })
})
