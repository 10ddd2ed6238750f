/**
 * What the ticket ingest reports to /metrics: tickets the lookback window did
 * not reach (late rows older than TICKETS_LOOKBACK, not in bronze). Set from
 * each ingest-tickets task result (IngestTicketsSummary.missedBeforeWindow);
 * a full refresh that loads them brings it back to 0.
 */
import { Gauge, type Registry } from 'prom-client'

export interface TicketMetrics {
  /** Takes one ingest-tickets task result; anything without the count is ignored. */
  observe(result: unknown): void
}

export function ticketMetrics(registry: Registry): TicketMetrics {
  const missed = new Gauge({
    name: 'careplus_tickets_missed_before_window',
    help: 'Tickets in MySQL before the last run\'s TICKETS_LOOKBACK window that bronze does not have (careplus ingest-tickets --full-refresh loads them)',
    registers: [registry],
  })
  return {
    observe(result) {
      const n = (result as { missedBeforeWindow?: unknown } | null | undefined)?.missedBeforeWindow
      if (typeof n === 'number' && Number.isFinite(n)) missed.set(n)
    },
  }
}
