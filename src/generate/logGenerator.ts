/**
 * Deterministic CarePlus application logs: one `careplus-YYYY-MM-DD.log` per
 * day in the seed's six-line block format, about the tickets of
 * {@link planTickets}, with the seed's dirt (misspelt levels, negative response
 * times, exact duplicate blocks). Streams, so multi-GB benchmark inputs never
 * sit in memory.
 */
import { createWriteStream } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { InvalidSizeError } from './byteSize.js'
import { createPrng, type Prng, type WeightedTable, weightedTable } from './prng.js'
import {
  apportion,
  formatDate,
  formatTimeOfDay,
  HOURLY_VOLUME,
  parseTimestamp,
  planTickets,
} from './ticketPlan.js'

/** One log event as written. `formatBlock` renders it; field names follow `bronze.logs`. */
export interface LogEvent {
  /** `YYYY-MM-DD HH:MM:SS`. */
  timestamp: string
  /** As written, dirt included: `INFO`, `INF0`, `warnING`, … */
  log_level: string
  service: string
  ticket_id: string
  session_id: string
  ip: string
  /** Integer milliseconds; negative values are the seed's dirt. */
  response_time_ms: number
  /** Written with two decimals. */
  cpu_percent: number
  event_type: string
  error: boolean
  user_agent: string
  message: string
  debug: string
  /** null is written as `None`. */
  trace_id: string | null
}

export interface GenerateLogsOptions {
  outDir: string
  /** Days from 2025-07-01, one file each; past July 31 they run on into August and beyond. Default 31. */
  days?: number
  /**
   * Total blocks over all days, duplicate blocks included (every `---` counts
   * once). Default 2650, like the seed. Ignored when `sizeBytes` is given.
   */
  events?: number
  seed?: number
  /** Target total bytes over all files; the event count is derived from it (±~1 %). */
  sizeBytes?: number
  signal?: AbortSignal
  /** Called with the running total of bytes handed to the files so far. */
  onProgress?: (bytes: number) => void
}

export interface GenerateLogsResult {
  /** `join(outDir, careplus-YYYY-MM-DD.log)`, in day order. */
  files: string[]
  /** Blocks written, duplicates included. */
  events: number
  /** UTF-8 bytes written over all files. */
  bytes: number
}

/** The first log day; tickets come from the same month's plan. */
const START = { year: 2025, month: 7 } as const

export function formatBlock(e: LogEvent): string {
  return (
    `${e.timestamp} [${e.log_level}] ${e.service} - TicketID=${e.ticket_id} SessionID=${e.session_id}\n` +
    `IP=${e.ip} | ResponseTime=${e.response_time_ms}ms | CPU=${e.cpu_percent.toFixed(2)}% | ` +
    `EventType=${e.event_type} | Error=${e.error}\n` +
    `UserAgent="${e.user_agent}"\n` +
    `Message="${e.message}"\n` +
    `Debug="${e.debug}"\n` +
    `TraceID=${e.trace_id ?? 'None'}\n` +
    '---\n'
  )
}

export function logFileName(epochSeconds: number): string {
  return `careplus-${formatDate(epochSeconds)}.log`
}

// --- dirt rates ----------------------------------------------------------------

/** Share of unique events written twice in a row (the copy takes one of the `events` slots). */
export const DUPLICATE_RATE = 0.025
export const NEGATIVE_RESPONSE_RATE = 0.03

type CleanLevel = 'INFO' | 'DEBUG' | 'WARNING' | 'ERROR'

/** Each misspelt level at 3 %, 12 % dirty levels in all. */
const LEVELS = weightedTable<readonly [written: string, clean: CleanLevel]>([
  [['INFO', 'INFO'], 52],
  [['DEBUG', 'DEBUG'], 14],
  [['WARNING', 'WARNING'], 12],
  [['ERROR', 'ERROR'], 10],
  [['INF0', 'INFO'], 3],
  [['DEBG', 'DEBUG'], 3],
  [['warnING', 'WARNING'], 3],
  [['EROR', 'ERROR'], 3],
])

const ERROR_FLAG_RATE: Readonly<Record<CleanLevel, number>> = { ERROR: 0.85, WARNING: 0.08, INFO: 0.01, DEBUG: 0.01 }
const TRACE_ID_RATE: Readonly<Record<CleanLevel, number>> = { ERROR: 0.6, WARNING: 0.3, INFO: 0.12, DEBUG: 0.15 }

// --- vocabulary ------------------------------------------------------------------

interface Service {
  name: string
  /** event_type and the Message label; the generic label is empty, as in the seed (`Message=" event for …"`). */
  events: WeightedTable<readonly [eventType: string, label: string]>
}

const SERVICES = weightedTable<Service>([
  [{ name: 'careplus.support.GenericService', events: weightedTable([[['generic_event', ''], 1]]) }, 30],
  [
    {
      name: 'careplus.support.AuthService',
      events: weightedTable([
        [['login_attempt', 'User login'], 50],
        [['token_refresh', 'Token refresh'], 25],
        [['logout', 'User logout'], 15],
        [['password_reset', 'Password reset'], 10],
      ]),
    },
    20,
  ],
  [
    {
      name: 'careplus.support.TicketService',
      events: weightedTable([
        [['ticket_viewed', 'Ticket viewed'], 40],
        [['ticket_updated', 'Ticket updated'], 35],
        [['ticket_escalated', 'Ticket escalated'], 10],
        [['ticket_comment_added', 'Comment added'], 15],
      ]),
    },
    25,
  ],
  [
    {
      name: 'careplus.support.PaymentService',
      events: weightedTable([
        [['payment_processed', 'Payment processed'], 60],
        [['payment_failed', 'Payment failed'], 25],
        [['refund_issued', 'Refund issued'], 15],
      ]),
    },
    10,
  ],
  [
    {
      name: 'careplus.support.NotificationService',
      events: weightedTable([
        [['email_sent', 'Email notification'], 50],
        [['sms_sent', 'SMS notification'], 25],
        [['push_sent', 'Push notification'], 25],
      ]),
    },
    15,
  ],
])

const DEBUG_TEXT: Readonly<Record<CleanLevel, WeightedTable<string>>> = {
  INFO: weightedTable([
    ['ℹ️ Logged for monitoring', 70],
    ['✅ Request completed', 15],
    ['📈 Metrics flushed', 15],
  ]),
  DEBUG: weightedTable([
    ['🐞 Cache miss, loaded from DB', 40],
    ['🔍 Payload validated', 35],
    ['🐛 Verbose tracing enabled', 25],
  ]),
  WARNING: weightedTable([
    ['⚠️ Slow upstream response', 45],
    ['⚠️ Retrying request (attempt 2)', 35],
    ['🐢 Rate limit approaching', 20],
  ]),
  ERROR: weightedTable([
    ['🔥 Unhandled exception in handler', 40],
    ['❌ Upstream returned 503', 35],
    ['💥 Database connection reset', 25],
  ]),
}

const USER_AGENTS = weightedTable([
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', 25],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', 15],
  ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15', 12],
  ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36', 12],
  ['Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0', 8],
  ['PostmanRuntime/7.32.2', 8],
  ['CarePlusApp/3.4.1 (Android 13; SM-G991B)', 8],
  ['CarePlusApp/3.4.0 (iOS 17.5; iPhone14,2)', 7],
  ['okhttp/4.12.0', 3],
  ['python-requests/2.31.0', 2],
] as const)

function randomPublicIp(rng: Prng): string {
  let first: number
  do first = rng.int(1, 223)
  while (first === 10 || first === 127)
  return `${first}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`
}

// --- event synthesis -------------------------------------------------------------

/** The ticket plan, columnar, plus each ticket's usual client (most events come from it). */
interface TicketIndex {
  ids: string[]
  /** created_at as UTC epoch seconds, ascending. */
  created: number[]
  homeIp: string[]
  homeUserAgent: string[]
}

function indexTickets(seed: number): TicketIndex {
  const rng = createPrng(seed, 'log-clients')
  const index: TicketIndex = { ids: [], created: [], homeIp: [], homeUserAgent: [] }
  for (const ticket of planTickets({ seed })) {
    index.ids.push(ticket.ticket_id)
    index.created.push(parseTimestamp(ticket.created_at))
    index.homeIp.push(randomPublicIp(rng))
    index.homeUserAgent.push(rng.weighted(USER_AGENTS))
  }
  if (index.ids.length === 0) throw new RangeError('generateLogs: the ticket plan is empty')
  return index
}

function makeEvent(rng: Prng, tickets: TicketIndex, ticket: number, timestamp: string): LogEvent {
  const service = rng.weighted(SERVICES)
  const [eventType, label] = rng.weighted(service.events)
  const [level, cleanLevel] = rng.weighted(LEVELS)
  const isError = cleanLevel === 'ERROR'

  let responseTime: number
  if (rng.chance(NEGATIVE_RESPONSE_RATE)) {
    responseTime = -rng.int(1, 999)
  } else {
    const speed = rng.next()
    // Fast (<500) / normal (500–999) / slow (≥1000); errors skew slow.
    const [fast, normal] = isError ? [0.2, 0.5] : [0.5, 0.8]
    responseTime = speed < fast ? rng.int(20, 499) : speed < normal ? rng.int(500, 999) : rng.int(1000, 4999)
  }

  const cpuBand = rng.next()
  const cpuHundredths = cpuBand < 0.55 ? rng.int(100, 4999) : cpuBand < 0.85 ? rng.int(5000, 7999) : rng.int(8000, 9999)
  const ticketId = tickets.ids[ticket] as string

  return {
    timestamp,
    log_level: level,
    service: service.name,
    ticket_id: ticketId,
    session_id: `sess_${ticketId}`,
    ip: rng.chance(0.75) ? (tickets.homeIp[ticket] as string) : randomPublicIp(rng),
    response_time_ms: responseTime,
    cpu_percent: cpuHundredths / 100,
    event_type: eventType,
    error: rng.chance(ERROR_FLAG_RATE[cleanLevel]),
    user_agent: rng.chance(0.7) ? (tickets.homeUserAgent[ticket] as string) : rng.weighted(USER_AGENTS),
    message: `${label} event for ${ticketId}`,
    debug: rng.weighted(DEBUG_TEXT[cleanLevel]),
    trace_id: rng.chance(TRACE_ID_RATE[cleanLevel]) ? rng.hex(32) : null,
  }
}

/**
 * Maps ascending points of [0, 1) to ascending seconds of a time window,
 * with density following the hourly volume (jittered per day).
 */
class DayClock {
  private readonly starts: number[] = []
  private readonly lengths: number[] = []
  private readonly cumulative: number[] = []
  private segment = 0

  constructor(rng: Prng, windowStart: number, windowEnd: number, dayStart: number) {
    let total = 0
    for (let hour = 0; hour < 24; hour++) {
      const jitter = rng.float(0.8, 1.2)
      const from = Math.max(windowStart, dayStart + hour * 3600)
      const to = Math.min(windowEnd + 1, dayStart + (hour + 1) * 3600)
      if (to <= from) continue
      total += (HOURLY_VOLUME[hour] as number) * jitter * (to - from)
      this.starts.push(from)
      this.lengths.push(to - from)
      this.cumulative.push(total)
    }
    for (let i = 0; i < this.cumulative.length; i++) this.cumulative[i] = (this.cumulative[i] as number) / total
  }

  /** Epoch second for `x`; calls must come with non-decreasing `x`. */
  at(x: number): number {
    const last = this.cumulative.length - 1
    while (this.segment < last && x >= (this.cumulative[this.segment] as number)) this.segment++
    const lo = this.segment === 0 ? 0 : (this.cumulative[this.segment - 1] as number)
    const hi = this.cumulative[this.segment] as number
    const length = this.lengths[this.segment] as number
    const offset = Math.min(length - 1, Math.floor(((x - lo) / (hi - lo)) * length))
    return (this.starts[this.segment] as number) + Math.max(0, offset)
  }
}

/** Bytes per write; blocks are encoded straight into the buffer (no string concatenation). */
const BATCH_BYTES = 64 * 1024
/** Headroom past BATCH_BYTES; a block is a few hundred bytes. */
const BATCH_SLACK = 16 * 1024

/**
 * One day's log as UTF-8 chunks, `blocks` blocks in time order. Timestamps are
 * sorted uniforms drawn in ascending order (Bentley & Saxe), so nothing but the
 * current batch is held in memory.
 */
function* renderDay(
  tickets: TicketIndex,
  seed: number,
  dayIndex: number,
  dayStart: number,
  blocks: number,
): Generator<Buffer, void, undefined> {
  if (blocks === 0) return
  const rng = createPrng(seed, 'logs', dayIndex)
  const dayEnd = dayStart + 86399
  const windowStart = Math.max(dayStart, tickets.created[0] as number)
  const clock = new DayClock(rng, windowStart, dayEnd, dayStart)
  const datePrefix = formatDate(dayStart) + ' '
  const created = tickets.created
  let available = 0
  let batch = Buffer.allocUnsafe(BATCH_BYTES + BATCH_SLACK)
  let used = 0
  let duplicateOf: string | null = null
  // y is the maximum of the `remaining` points still to place on [0, y]; 1 - y ascends.
  let y = 1

  for (let remaining = blocks; remaining > 0; remaining--) {
    y *= Math.pow(1 - rng.next(), 1 / remaining)
    let block: string
    if (duplicateOf !== null) {
      block = duplicateOf
      duplicateOf = null
    } else {
      const t = clock.at(1 - y)
      while (available < created.length && (created[available] as number) <= t) available++
      // Prefer recently created tickets: they are the ones being worked on.
      const ticket = available - 1 - Math.floor(available * rng.next() ** 3)
      block = formatBlock(makeEvent(rng, tickets, ticket, datePrefix + formatTimeOfDay(t - dayStart)))
      if (remaining > 1 && rng.chance(DUPLICATE_RATE)) duplicateOf = block
    }
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    if (batch.length - used < block.length * 3) {
      yield batch.subarray(0, used)
      batch = Buffer.allocUnsafe(Math.max(BATCH_BYTES + BATCH_SLACK, block.length * 3))
      used = 0
    }
    used += batch.write(block, used, 'utf8')
    if (used >= BATCH_BYTES) {
      yield batch.subarray(0, used)
      batch = Buffer.allocUnsafe(BATCH_BYTES + BATCH_SLACK)
      used = 0
    }
  }
  if (used > 0) yield batch.subarray(0, used)
}

/** Mean UTF-8 size of a block, from a fixed sample, to turn `sizeBytes` into an event count. */
function averageBlockBytes(tickets: TicketIndex, seed: number): number {
  const rng = createPrng(seed, 'calibration')
  const samples = 20_000
  let total = 0
  for (let i = 0; i < samples; i++) {
    const ticket = rng.int(0, tickets.ids.length - 1)
    total += Buffer.byteLength(formatBlock(makeEvent(rng, tickets, ticket, '2025-07-15 12:00:00')))
  }
  return total / samples
}

/** Weekends are quieter; days before the first ticket exists get no events. */
function dayWeights(seed: number, days: number, firstCreated: number): number[] {
  const rng = createPrng(seed, 'log-days')
  const weights: number[] = []
  for (let day = 0; day < days; day++) {
    const dayStart = Date.UTC(START.year, START.month - 1, 1 + day) / 1000
    const weekday = new Date(dayStart * 1000).getUTCDay()
    const jitter = rng.float(0.85, 1.15)
    weights.push(dayStart + 86399 < firstCreated ? 0 : (weekday === 0 || weekday === 6 ? 0.75 : 1) * jitter)
  }
  return weights
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted', { cause: signal.reason }), {
    name: 'AbortError',
    code: 'ABORT_ERR',
  })
}

export async function generateLogs(options: GenerateLogsOptions): Promise<GenerateLogsResult> {
  const { outDir, days = 31, events = 2650, seed = 42, sizeBytes, signal, onProgress } = options
  if (!Number.isSafeInteger(days) || days < 1) throw new RangeError(`generateLogs: days must be a positive integer, got ${days}`)
  if (!Number.isSafeInteger(events) || events < 0) {
    throw new RangeError(`generateLogs: events must be a non-negative integer, got ${events}`)
  }
  if (!Number.isSafeInteger(seed)) throw new RangeError(`generateLogs: seed must be an integer, got ${seed}`)
  if (sizeBytes !== undefined && !(Number.isFinite(sizeBytes) && sizeBytes >= 0)) {
    throw new RangeError(`generateLogs: sizeBytes must be a non-negative number, got ${sizeBytes}`)
  }
  if (signal?.aborted) throw abortError(signal)

  const tickets = indexTickets(seed)
  const blockBytes = sizeBytes === undefined ? 0 : averageBlockBytes(tickets, seed)
  const totalEvents = sizeBytes === undefined ? events : Math.round(sizeBytes / blockBytes)
  if (sizeBytes !== undefined && totalEvents === 0) {
    throw new InvalidSizeError(
      `Invalid size: ${sizeBytes} bytes is less than one log block (about ${Math.round(blockBytes)} bytes); give at least ${Math.ceil(blockBytes)} bytes`,
    )
  }
  const perDay = apportion(totalEvents, dayWeights(seed, days, tickets.created[0] as number))

  await mkdir(outDir, { recursive: true })
  const files: string[] = []
  let bytes = 0
  for (let day = 0; day < days; day++) {
    if (signal?.aborted) throw abortError(signal)
    const dayStart = Date.UTC(START.year, START.month - 1, 1 + day) / 1000
    const file = join(outDir, logFileName(dayStart))
    const chunks = renderDay(tickets, seed, day, dayStart, perDay[day] as number)
    await pipeline(
      async function* () {
        for (const chunk of chunks) {
          yield chunk
          bytes += chunk.length
          onProgress?.(bytes)
        }
      },
      createWriteStream(file),
      signal ? { signal } : {},
    )
    files.push(file)
  }
  return { files, events: totalEvents, bytes }
}
