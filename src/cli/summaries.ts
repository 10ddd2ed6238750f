import type { IngestLogsSummary } from '../pipelines/ingestLogs.js'

const n = (x: number): string => x.toLocaleString('en-US')

export function formatIngestLogsSummary(s: IngestLogsSummary): string {
  return (
    [
      `ingest-logs ${s.runId}`,
      `  objects   ${n(s.objectsListed)} listed, ${n(s.objectsLoaded)} loaded, ${n(s.objectsUnchanged)} unchanged, ${n(s.objectsIgnored)} ignored`,
      `  bytes     ${n(s.bytes)} (${(s.bytes / 1e6).toFixed(2)} MB)`,
      `  blocks    ${n(s.blocks)} = ${n(s.rows)} rows + ${n(s.rejects)} rejects`,
      `  staged    ${n(s.stagedFiles)} files in ${n(s.batches)} load batch${s.batches === 1 ? '' : 'es'}`,
      `  time      ${s.seconds.toFixed(2)} s, ${s.mbPerSec.toFixed(1)} MB/s`,
      ...(s.objectsChanged > 0 ? [`  changed   ${n(s.objectsChanged)} objects changed or vanished while read: the next run loads them`] : []),
      ...(s.objectsQuarantined > 0 ? [`  skipped   ${n(s.objectsQuarantined)} quarantined objects, unchanged since they failed (careplus failures; --retry-failed)`] : []),
      ...(s.failures.length > 0 ? [`  FAILED    ${n(s.failures.length)} objects quarantined in this run (careplus failures):`, ...s.failures.map((f) => `    ${f.key}: ${f.reason}`)] : []),
    ].join('\n') + '\n'
  )
}

export function formatIngestTicketsSummary(s: import('../pipelines/ingestTickets.js').IngestTicketsSummary): string {
  return (
    [
      `ingest-tickets ${s.runId}`,
      `  cursor    ${s.cursorColumn} ${s.watermarkFrom ?? '(first run: full load)'} → ${s.watermarkTo ?? '(none)'}`,
      `  window    ${s.windowFrom === null ? 'the whole table' + (s.watermarkFrom === null ? '' : ' (--full-refresh)') : `from ${s.windowFrom} (TICKETS_LOOKBACK)`}`,
      `  read      ${n(s.rowsRead)} rows (${n(s.openTicketsRechecked)} open tickets rechecked, ${n(s.nullCursorRows)} with no ${s.cursorColumn}), ${n(s.rowsUnchanged)} unchanged`,
      `  loaded    ${n(s.rows)} rows = ${n(s.newTickets)} new + ${n(s.changedTickets)} changed tickets`,
      `  staged    ${n(s.stagedFiles)} files`,
      `  time      ${s.seconds.toFixed(2)} s: extract to stage ${s.extractSeconds.toFixed(2)} s (${n(Math.round(s.rowsPerSec))} rows/s), load ${s.loadSeconds.toFixed(2)} s`,
      ...(s.missedBeforeWindow > 0
        ? [
            `  MISSED    ${n(s.missedBeforeWindow)} tickets before the window are in MySQL but not in bronze ` +
              `(${s.missedDays.map((d) => `${d.day}: ${n(d.tickets)}`).join(', ')}${s.missedDays.reduce((a, d) => a + d.tickets, 0) < s.missedBeforeWindow ? ', …' : ''}); ` +
              `careplus ingest-tickets --full-refresh loads them, a longer TICKETS_LOOKBACK catches them next time`,
          ]
        : []),
    ].join('\n') + '\n'
  )
}
