import t from 'tap'
import path from 'node:path'
import { DuckDbWarehouse } from '../../src/warehouse/duckdbWarehouse.js'
import { runTransforms } from '../../src/transform/runTransforms.js'
import { byKey, count, freshWarehouse, insertLogs, insertTickets, type LogFixture, type TicketFixture } from './fixtures/bronze.js'

/**
 * Hand-made bronze rows, one rule or boundary each. Created dates run over
 * 2025-07-07 (a Monday) … 2025-07-13 so every day name appears.
 */
const TICKETS: TicketFixture[] = [
  // Resolved over a minute boundary: 10:00:59 → 10:01:00 is 1 minute.
  { ticket_id: 'T01', created_at: '2025-07-07 10:00:59', resolved_at: '2025-07-07 10:01:00', priority: 'Lw', num_interactions: '3' },
  // Same minute: 0. And the bucket boundaries in minutes: 59, 60, 1,439, 1,440, 4,319, 4,320.
  { ticket_id: 'T02', created_at: '2025-07-08 00:00:00', resolved_at: '2025-07-08 00:00:59', priority: 'Medum', num_interactions: '-999999' },
  { ticket_id: 'T03', created_at: '2025-07-09 00:00:00', resolved_at: '2025-07-09 00:59:00', priority: 'Hgh', num_interactions: 'abc' },
  { ticket_id: 'T04', created_at: '2025-07-10 00:00:00', resolved_at: '2025-07-10 01:00:00', priority: 'low', num_interactions: ' 7 ' },
  { ticket_id: 'T05', created_at: '2025-07-11 00:00:00', resolved_at: '2025-07-11 23:59:00', priority: 'Medium', num_interactions: '3.5' },
  { ticket_id: 'T06', created_at: '2025-07-12 23:00:00', resolved_at: '2025-07-13 23:00:00', priority: 'High', num_interactions: '0' },
  { ticket_id: 'T07', created_at: '2025-07-13 05:30:00', resolved_at: '2025-07-16 05:29:00', priority: ' HGH ', num_interactions: '1e3' },
  { ticket_id: 'T08', created_at: '2025-07-07 05:30:00', resolved_at: '2025-07-10 05:30:00', num_interactions: '12' },
  // Open: no resolved_at.
  { ticket_id: 'T09', created_at: '2025-07-07 08:15:00', resolved_at: null, status: 'Open', num_interactions: '-1' },
  // Malformed timestamps: NULL, the run goes on; a malformed resolved_at still means resolved.
  { ticket_id: 'T10', created_at: 'not a date', resolved_at: '2025-07-08 10:00:00', status: 'Resolved' },
  { ticket_id: 'T11', created_at: '2025-07-07 10:00:00', resolved_at: '2025-02-30 10:00:00', status: 'Resolved' },
  { ticket_id: 'T12', created_at: '2025-07-07T10:00:00', resolved_at: '2025-07-07 10:00:00+02', status: 'Resolved' },
  { ticket_id: 'T13', created_at: '2025-07-07', resolved_at: '2025-07-07 10:30:00.250', status: 'Resolved' },
  // Resolved before created: a negative time has no bucket.
  { ticket_id: 'T14', created_at: '2025-07-07 10:00:00', resolved_at: '2025-07-07 09:00:00' },
  // Versions: the latest extraction wins, then the highest run id.
  { ticket_id: 'T15', created_at: '2025-07-07 09:00:00', resolved_at: null, status: 'Open', _extracted_at: '2025-08-01 02:00:00', _run_id: 'run-1' },
  { ticket_id: 'T15', created_at: '2025-07-07 09:00:00', resolved_at: '2025-07-07 12:00:00', status: 'Resolved', _extracted_at: '2025-08-02 02:00:00', _run_id: 'run-0' },
  { ticket_id: 'T16', created_at: '2025-07-07 09:00:00', priority: 'Low', _extracted_at: '2025-08-01 02:00:00', _run_id: 'run-a' },
  { ticket_id: 'T16', created_at: '2025-07-07 09:00:00', priority: 'High', _extracted_at: '2025-08-01 02:00:00', _run_id: 'run-b' },
  // No logs at all.
  { ticket_id: 'T17', created_at: '2025-07-07 09:00:00', resolved_at: '2025-07-07 09:30:00' },
]

const LOGS: LogFixture[] = [
  { timestamp: '2025-07-07 10:05:00', log_level: 'INF0', ticket_id: 'T01', ip: '1.1.1.1', response_time_ms: 500, cpu_percent: 50, trace_id: 'None', _source_line: 1 },
  { timestamp: '2025-07-07 10:06:00', log_level: 'DEBG', ticket_id: 'T01', ip: '1.1.1.1', response_time_ms: 499, cpu_percent: 49.99, _source_line: 7 },
  { timestamp: '2025-07-07 11:00:00', log_level: 'EROR', ticket_id: 'T01', ip: '1.1.1.1', response_time_ms: 1000, cpu_percent: 80, error: 'true', trace_id: 'abc123', _source_line: 13 },
  { timestamp: '2025-07-07 12:00:00', log_level: 'warnING', ticket_id: 'T01', ip: '1.1.1.1', response_time_ms: 999, cpu_percent: 79.99, _source_line: 19 },
  { timestamp: '2025-07-07 13:00:00', log_level: 'INFO', ticket_id: 'T01', ip: '1.1.1.1', response_time_ms: -749, cpu_percent: 100, _source_line: 25 },
  // Same timestamp and ticket as the first event, another IP: a different event.
  { timestamp: '2025-07-07 10:05:00', log_level: 'INFO', ticket_id: 'T01', ip: '2.2.2.2', response_time_ms: 20, cpu_percent: 10, _source_line: 31 },
  // A duplicate of the first event (same timestamp + ticket + IP), later in the file: removed.
  { timestamp: '2025-07-07 10:05:00', log_level: 'INF0', ticket_id: 'T01', ip: '1.1.1.1', response_time_ms: 500, cpu_percent: 50, _source_line: 37 },
  { timestamp: '2025-07-08 00:30:00', log_level: 'WARNING', ticket_id: 'T02', response_time_ms: 0, cpu_percent: 0, _source_line: 1, _source_file: 'logs/careplus-2025-07-08.log' },
  { timestamp: '2025-07-08 00:31:00', log_level: 'DEBUG', ticket_id: 'T02', response_time_ms: -1, cpu_percent: 5, _source_line: 7, _source_file: 'logs/careplus-2025-07-08.log' },
  // A ticket the tickets table does not know: in fct_logs, not in the summary.
  { timestamp: '2025-07-08 01:00:00', log_level: 'ERROR', ticket_id: 'T99', response_time_ms: 1500, cpu_percent: 95, error: 'true', _source_line: 13, _source_file: 'logs/careplus-2025-07-08.log' },
]

t.test('silver and gold rules on hand-made bronze rows', async (t) => {
  const wh = await freshWarehouse(t)
  await insertTickets(wh, TICKETS)
  await insertLogs(wh, LOGS)
  const events: string[] = []
  const summary = await runTransforms({ warehouse: wh, onEvent: (e) => events.push(`${e.type} ${e.name}`) })
  t.same(summary.tests.filter((r) => r.failures > 0), [], 'every data test passes on the fixtures')
  t.same(
    summary.models.map((m) => m.model),
    ['silver.stg_logs', 'silver.stg_tickets', 'gold.fct_logs', 'gold.fct_tickets', 'gold.fct_ticket_log_summary'],
  )
  t.same(
    summary.models.map((m) => m.rows),
    [undefined, undefined, 9, 17, 17],
    'views are not counted; table rows are',
  )
  t.ok(events.includes('model gold.fct_tickets') && events.some((e) => e.startsWith('test silver.stg_logs')), 'events for models and tests')

  t.test('stg_tickets', async (t) => {
    const rows = await byKey(
      wh,
      `SELECT ticket_id, CAST(created_at AS VARCHAR) AS created_at, CAST(resolved_at AS VARCHAR) AS resolved_at, priority,
              num_interactions, typeof(num_interactions) AS ni_type, resolution_time_mins, is_open, status, _run_id
       FROM silver.stg_tickets`,
    )
    t.equal(rows.size, 17, 'one row per ticket: the latest version')
    const pick = (id: string) => rows.get(id)!
    t.match(pick('T01'), { created_at: '2025-07-07 10:00:59', resolved_at: '2025-07-07 10:01:00', resolution_time_mins: 1, is_open: false, priority: 'Low' })
    t.match(pick('T02'), { resolution_time_mins: 0, priority: 'Medium', num_interactions: null }, 'same minute: 0; -999999 → NULL')
    t.match(pick('T03'), { resolution_time_mins: 59, priority: 'High', num_interactions: null }, 'a non-number → NULL')
    t.match(pick('T04'), { resolution_time_mins: 60, priority: 'Low', num_interactions: 7 }, 'low → Low, blanks around a number are fine')
    t.match(pick('T05'), { resolution_time_mins: 1439, priority: 'Medium', num_interactions: null }, '3.5 is not an integer')
    t.match(pick('T06'), { resolution_time_mins: 1440, num_interactions: 0 }, '0 interactions is valid')
    t.match(pick('T07'), { resolution_time_mins: 4319, priority: 'High', num_interactions: null }, "' HGH ' → High, 1e3 is not an integer")
    t.match(pick('T08'), { resolution_time_mins: 4320, num_interactions: 12 })
    t.equal(pick('T01').ni_type, 'INTEGER', 'num_interactions is an INTEGER')
    t.match(pick('T09'), { resolved_at: null, resolution_time_mins: null, is_open: true, num_interactions: null }, 'open; -1 → NULL')
    t.match(pick('T10'), { created_at: null, resolved_at: '2025-07-08 10:00:00', resolution_time_mins: null, is_open: false }, 'malformed created_at')
    t.match(pick('T11'), { created_at: '2025-07-07 10:00:00', resolved_at: null, resolution_time_mins: null, is_open: false }, 'impossible date')
    t.match(pick('T12'), { created_at: '2025-07-07 10:00:00', resolved_at: null }, "a 'T' separator is read; a zone offset is not")
    t.match(pick('T13'), { created_at: null, resolved_at: '2025-07-07 10:30:00.25' }, 'a bare date is not a timestamp; fractions are read')
    t.match(pick('T14'), { resolution_time_mins: -60 })
    t.match(pick('T15'), { resolved_at: '2025-07-07 12:00:00', is_open: false, status: 'Resolved', _run_id: 'run-0' }, 'latest extraction wins')
    t.match(pick('T16'), { priority: 'High', _run_id: 'run-b' }, 'same extraction time: the higher run id wins')
  })

  t.test('stg_logs', async (t) => {
    const rows = await wh.query(
      `SELECT CAST(timestamp AS VARCHAR) AS ts, log_level, ticket_id, ip, response_time_ms, error, typeof(error) AS error_type, trace_id, _source_line
       FROM silver.stg_logs ORDER BY ticket_id, timestamp, ip`,
    )
    t.same(
      rows.map((r) => [r.ts, r.log_level, r.ticket_id, r.ip, r.response_time_ms, r.error, r.trace_id, r._source_line]),
      [
        ['2025-07-07 10:05:00', 'INFO', 'T01', '1.1.1.1', 500, false, null, 1],
        ['2025-07-07 10:05:00', 'INFO', 'T01', '2.2.2.2', 20, false, null, 31],
        ['2025-07-07 10:06:00', 'DEBUG', 'T01', '1.1.1.1', 499, false, null, 7],
        ['2025-07-07 11:00:00', 'ERROR', 'T01', '1.1.1.1', 1000, true, 'abc123', 13],
        ['2025-07-07 12:00:00', 'WARNING', 'T01', '1.1.1.1', 999, false, null, 19],
        ['2025-07-07 13:00:00', 'INFO', 'T01', '1.1.1.1', null, false, null, 25],
        ['2025-07-08 00:30:00', 'WARNING', 'T02', '60.130.155.7', 0, false, null, 1],
        ['2025-07-08 00:31:00', 'DEBUG', 'T02', '60.130.155.7', null, false, null, 7],
        ['2025-07-08 01:00:00', 'ERROR', 'T99', '60.130.155.7', 1500, true, null, 13],
      ],
      'levels normalised, negative times NULL, TraceID=None NULL, the later duplicate removed',
    )
    t.equal(rows[0]!.error_type, 'BOOLEAN')
    t.equal(await count(wh, 'SELECT count(*) FROM bronze.logs'), 10, 'bronze keeps the duplicate')
  })

  t.test('fct_tickets', async (t) => {
    const rows = await byKey(
      wh,
      `SELECT ticket_id, CAST(created_date AS VARCHAR) AS created_date, created_day_of_week, created_hour, resolution_bucket, resolution_time_mins, is_open
       FROM gold.fct_tickets`,
    )
    const bucket = (id: string) => rows.get(id)!.resolution_bucket
    t.same(
      ['T02', 'T01', 'T03', 'T04', 'T05', 'T06', 'T07', 'T08'].map((id) => [rows.get(id)!.resolution_time_mins, bucket(id)]),
      [
        [0, 'Under 1 hour'],
        [1, 'Under 1 hour'],
        [59, 'Under 1 hour'],
        [60, 'Under 1 day'],
        [1439, 'Under 1 day'],
        [1440, 'Under 3 days'],
        [4319, 'Under 3 days'],
        [4320, 'Over 3 days'],
      ],
      'bucket boundaries at 60, 1,440 and 4,320 minutes',
    )
    t.equal(bucket('T09'), null, 'open: no bucket')
    t.equal(bucket('T10'), null, 'unknown time: no bucket')
    t.equal(bucket('T14'), null, 'negative time: no bucket')
    t.same(
      ['T01', 'T02', 'T03', 'T04', 'T05', 'T06', 'T07'].map((id) => rows.get(id)!.created_day_of_week),
      ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'],
      'full day names',
    )
    t.match(rows.get('T01'), { created_date: '2025-07-07', created_hour: 10 })
    t.match(rows.get('T06'), { created_date: '2025-07-12', created_hour: 23 })
    t.match(rows.get('T10'), { created_date: null, created_day_of_week: null, created_hour: null, is_open: false })
    const [cols] = await wh.query(
      "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) AS c FROM information_schema.columns WHERE table_schema = 'gold' AND table_name = 'fct_tickets'",
    )
    t.equal(
      cols!.c,
      'ticket_id,created_at,resolved_at,agent,priority,num_interactions,issue_cat,channel,status,agent_feedback,resolution_time_mins,is_open,created_date,created_day_of_week,created_hour,resolution_bucket',
      "the seed's columns, with the seed's names",
    )
  })

  t.test('fct_logs', async (t) => {
    const rows = await wh.query(
      `SELECT response_time_ms, response_bucket, cpu_percent, cpu_load, CAST(log_date AS VARCHAR) AS log_date, log_hour
       FROM gold.fct_logs ORDER BY ticket_id, timestamp, ip`,
    )
    t.same(
      rows.map((r) => [r.response_time_ms, r.response_bucket, r.cpu_percent, r.cpu_load]),
      [
        [500, 'Normal', 50, 'Medium'],
        [20, 'Fast', 10, 'Low'],
        [499, 'Fast', 49.99, 'Low'],
        [1000, 'Slow', 80, 'High'],
        [999, 'Normal', 79.99, 'Medium'],
        [null, null, 100, 'High'],
        [0, 'Fast', 0, 'Low'],
        [null, null, 5, 'Low'],
        [1500, 'Slow', 95, 'High'],
      ],
      'exactly 500 ms is Normal, 1,000 ms Slow, 50 % Medium, 80 % High; a NULL time has no bucket',
    )
    t.match(rows[0], { log_date: '2025-07-07', log_hour: 10 })
    t.match(rows[6], { log_date: '2025-07-08', log_hour: 0 })
    const [cols] = await wh.query(
      "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) AS c FROM information_schema.columns WHERE table_schema = 'gold' AND table_name = 'fct_logs'",
    )
    for (const c of ['timestamp', 'log_level', 'service', 'ticket_id', 'session_id', 'ip', 'response_time_ms', 'cpu_percent', 'event_type', 'error', 'user_agent', 'trace_id', 'log_date', 'log_hour', 'response_bucket', 'cpu_load']) {
      t.ok(String(cols!.c).split(',').includes(c), `fct_logs has ${c}`)
    }
  })

  t.test('fct_ticket_log_summary', async (t) => {
    const rows = await byKey(
      wh,
      `SELECT ticket_id, total_log_events, avg_response_time_ms, max_response_time_ms, avg_cpu_percent, total_errors, total_warnings,
              total_debug_events, CAST(first_log_at AS VARCHAR) AS first_log_at, CAST(last_log_at AS VARCHAR) AS last_log_at,
              resolution_bucket, is_open
       FROM gold.fct_ticket_log_summary`,
    )
    t.equal(rows.size, 17, 'one row per ticket, tickets without logs included, unknown tickets excluded')
    t.notOk(rows.has('T99'))
    const t01 = rows.get('T01')!
    t.match(t01, {
      total_log_events: 6,
      max_response_time_ms: 1000,
      total_errors: 1,
      total_warnings: 1,
      total_debug_events: 1,
      first_log_at: '2025-07-07 10:05:00',
      last_log_at: '2025-07-07 13:00:00',
      resolution_bucket: 'Under 1 hour',
    })
    t.ok(Math.abs(Number(t01.avg_response_time_ms) - (500 + 20 + 499 + 1000 + 999) / 5) < 1e-9, 'average over the non-NULL times')
    t.ok(Math.abs(Number(t01.avg_cpu_percent) - (50 + 10 + 49.99 + 80 + 79.99 + 100) / 6) < 1e-9, 'average CPU over every event')
    t.match(rows.get('T02'), { total_log_events: 2, avg_response_time_ms: 0, max_response_time_ms: 0, avg_cpu_percent: 2.5, total_errors: 0, total_warnings: 1, total_debug_events: 1 })
    t.same(rows.get('T17'), {
      ticket_id: 'T17',
      total_log_events: 0,
      avg_response_time_ms: null,
      max_response_time_ms: null,
      avg_cpu_percent: null,
      total_errors: 0,
      total_warnings: 0,
      total_debug_events: 0,
      first_log_at: null,
      last_log_at: null,
      resolution_bucket: 'Under 1 hour',
      is_open: false,
    }, 'a ticket without logs: 0 events, NULL averages')
    const [cols] = await wh.query(
      "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) AS c FROM information_schema.columns WHERE table_schema = 'gold' AND table_name = 'fct_ticket_log_summary'",
    )
    t.equal(
      cols!.c,
      'ticket_id,created_at,resolved_at,agent,priority,issue_cat,channel,status,resolution_time_mins,resolution_bucket,is_open,' +
        'total_log_events,avg_response_time_ms,max_response_time_ms,avg_cpu_percent,total_errors,total_warnings,total_debug_events,first_log_at,last_log_at',
    )
  })

  t.test('a second run replaces gold with the new bronze state', async (t) => {
    await insertTickets(wh, [{ ticket_id: 'T09', created_at: '2025-07-07 08:15:00', resolved_at: '2025-07-07 09:15:00', _extracted_at: '2025-08-03 02:00:00', _run_id: 'run-9' }])
    await runTransforms({ warehouse: wh })
    const [r] = await wh.query("SELECT is_open, resolution_time_mins, resolution_bucket FROM gold.fct_tickets WHERE ticket_id = 'T09'")
    t.same(r, { is_open: false, resolution_time_mins: 60, resolution_bucket: 'Under 1 day' }, 'the resolution arrived')
    t.equal(await count(wh, 'SELECT count(*) FROM gold.fct_tickets'), 17)
  })
})

t.test('silver alone; the views keep working in a new connection (persistent macros)', async (t) => {
  const dir = t.testdir()
  const open = () => DuckDbWarehouse.open({ file: path.join(dir, 'w.duckdb'), tmpDir: path.join(dir, 'tmp') })
  const wh = await open()
  await wh.migrate()
  await insertTickets(wh, [{ ticket_id: 'T01', created_at: '2025-07-07 10:00:59', resolved_at: '2025-07-07 10:01:00' }])
  const s = await runTransforms({ warehouse: wh, layers: ['silver'] })
  t.same(s.models.map((m) => m.layer), ['silver', 'silver'])
  t.ok(s.tests.length > 0 && s.tests.every((r) => r.model.startsWith('silver.')), 'only silver tests ran')
  t.equal(await count(wh, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'gold'"), 0, 'no gold table was built')
  await wh.close()
  const reopened = await open()
  t.teardown(() => reopened.close())
  t.same(await reopened.query('SELECT resolution_time_mins FROM silver.stg_tickets'), [{ resolution_time_mins: 1 }])
})
