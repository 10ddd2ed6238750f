/** A log block as the seed writes it, for the encoder and kernel tests: every field given as written, the rest as in the seed's sample. */
export type LogBlockField = 'ts' | 'level' | 'service' | 'ticket' | 'session' | 'ip' | 'rt' | 'cpu' | 'event' | 'error' | 'ua' | 'message' | 'debug' | 'trace'

/** The block's six lines and its `---` separator, newline-terminated. `rt` and `cpu` are written before their `ms` and `%`. */
export function logBlock(f: Partial<Record<LogBlockField, string>> = {}): string {
  const b = {
    ts: '2025-07-01 00:21:00',
    level: 'INFO',
    service: 'careplus.support.GenericService',
    ticket: 'TCK0701000',
    session: 'sess_TCK0701000',
    ip: '60.130.155.7',
    rt: '1269',
    cpu: '27.64',
    event: 'generic_event',
    error: 'false',
    ua: '"PostmanRuntime/7.32.2"',
    message: '" event for TCK0701000"',
    debug: '"ℹ️ Logged for monitoring"',
    trace: 'None',
    ...f,
  }
  return [
    `${b.ts} [${b.level}] ${b.service} - TicketID=${b.ticket} SessionID=${b.session}`,
    `IP=${b.ip} | ResponseTime=${b.rt}ms | CPU=${b.cpu}% | EventType=${b.event} | Error=${b.error}`,
    `UserAgent=${b.ua}`,
    `Message=${b.message}`,
    `Debug=${b.debug}`,
    `TraceID=${b.trace}`,
    '---',
    '',
  ].join('\n')
}
