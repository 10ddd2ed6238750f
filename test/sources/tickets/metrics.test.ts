import t from 'tap'
import { Registry } from 'prom-client'
import { ticketMetrics } from '../../../src/sources/tickets/metrics.js'

t.test('the missed count of the last ingest-tickets result is a gauge on the registry', async (t) => {
  const registry = new Registry()
  const m = ticketMetrics(registry)
  const value = async () => (await registry.getSingleMetric('careplus_tickets_missed_before_window')!.get()).values.map((v) => v.value)
  t.same(await value(), [0], '0 before any run')
  m.observe({ rows: 10, missedBeforeWindow: 300 })
  t.same(await value(), [300])
  m.observe({ rows: 0 })
  m.observe(undefined)
  t.same(await value(), [300], 'a result without the count leaves it')
  m.observe({ missedBeforeWindow: 0 })
  t.same(await value(), [0], 'a full refresh brings it back to 0')
  t.match(await registry.metrics(), /# TYPE careplus_tickets_missed_before_window gauge\ncareplus_tickets_missed_before_window 0/)
})
