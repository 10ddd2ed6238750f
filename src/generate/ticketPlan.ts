/**
 * The deterministic month of CarePlus support tickets, imitating the
 * `careplus_support_db.support_tickets` seed table: every column is MySQL
 * `text`, so every value here is the exact string (or NULL) MySQL will hold,
 * dirt included (`Lw`/`Medum`/`Hgh` priorities, `-999999` interactions).
 *
 * Shared by the log generator (log events reference these ticket ids) and the
 * MySQL loader: the same options always give the same rows.
 */
import { createPrng, type Prng, weightedTable } from './prng.js'
import type { TicketSourceRow } from '../sources/tickets/schema.js'

/** One planned row of the source table (src/sources/tickets/schema.ts), with what the generator promises about each value; a source column it does not plan is NULL. */
export interface TicketRow extends Partial<TicketSourceRow> {
  /** `TCK` + MMDD + per-day sequence in creation order (3 digits, wider past 1,000 a day), e.g. `TCK0701000`. */
  ticket_id: string
  /** `YYYY-MM-DD HH:MM:SS` (UTC, no zone). */
  created_at: string
  /** Same format, strictly later than `created_at`; null while the ticket is open. */
  resolved_at: string | null
  agent: string
  /** `High` / `Medium` / `Low`, or the seed's misspellings `Hgh` / `Medum` / `Lw`. */
  priority: string
  /** A positive integer as text, or the seed's sentinel `-999999`. */
  num_interactions: string
  IssUeCat: string
  channel: string
  /** `Open` exactly when `resolved_at` is null, else `Resolved`. */
  status: string
  /** Free text with quotes, commas, newlines, backslashes, non-ASCII, emoji; sometimes `''`, sometimes null. */
  agent_feedback: string | null
}

export interface TicketPlanOptions {
  seed: number
  /** Tickets in the month; 810 like the seed. */
  count?: number
  year?: number
  /** 1-based month. */
  month?: number
}

// --- timestamps --------------------------------------------------------------
// All arithmetic is on UTC epoch seconds so no local time zone or DST leaks in.

const PAD2: readonly string[] = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'))

/** `YYYY-MM-DD` of a UTC epoch-seconds instant. */
export function formatDate(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000)
  return `${d.getUTCFullYear()}-${PAD2[d.getUTCMonth() + 1]}-${PAD2[d.getUTCDate()]}`
}

/** `HH:MM:SS` of a second within a day (0–86399). */
export function formatTimeOfDay(secondOfDay: number): string {
  const h = Math.floor(secondOfDay / 3600)
  const m = Math.floor((secondOfDay % 3600) / 60)
  return `${PAD2[h]}:${PAD2[m]}:${PAD2[secondOfDay % 60]}`
}

/** `YYYY-MM-DD HH:MM:SS` of a UTC epoch-seconds instant. */
export function formatTimestamp(epochSeconds: number): string {
  const secondOfDay = ((epochSeconds % 86400) + 86400) % 86400
  return `${formatDate(epochSeconds)} ${formatTimeOfDay(secondOfDay)}`
}

const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/

/** Inverse of {@link formatTimestamp}; throws on anything else. */
export function parseTimestamp(ts: string): number {
  const m = TIMESTAMP_RE.exec(ts)
  if (!m) throw new RangeError(`not a YYYY-MM-DD HH:MM:SS timestamp: ${JSON.stringify(ts)}`)
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number]
  return Date.UTC(y, mo - 1, d, h, mi, s) / 1000
}

// --- vocabulary --------------------------------------------------------------

const AGENTS = [
  'Alice Johnson',
  'Brian Smith',
  'Chloé Dubois',
  'Daniel Okafor',
  'Emily Chen',
  'Farah Khan',
  'George Miller',
  'Hannah Schmidt',
  'Ibrahim Bello',
  'Julia Rossi',
  'Kevin Nguyen',
  'Laura Martínez',
] as const

const ISSUE_CATEGORIES = weightedTable([
  ['Login Issue', 16],
  ['Billing', 15],
  ['Payment Failure', 11],
  ['Appointment Scheduling', 14],
  ['Prescription Refill', 10],
  ['Technical Bug', 14],
  ['Account Management', 10],
  ['Feature Request', 5],
  ['Insurance Claim', 5],
] as const)

const CHANNELS = weightedTable([
  ['Chat', 45],
  ['Phone', 30],
  ['Web Form', 25],
] as const)

/** Each misspelling at 3 %, 9 % dirty priorities in all. */
const PRIORITIES = weightedTable([
  ['High', 23],
  ['Medium', 42],
  ['Low', 26],
  ['Hgh', 3],
  ['Medum', 3],
  ['Lw', 3],
] as const)

const CLEAN_PRIORITY: Readonly<Record<string, 'High' | 'Medium' | 'Low'>> = {
  High: 'High',
  Hgh: 'High',
  Medium: 'Medium',
  Medum: 'Medium',
  Low: 'Low',
  Lw: 'Low',
}

export const INVALID_NUM_INTERACTIONS = '-999999'
const INVALID_NUM_INTERACTIONS_RATE = 0.03

type ResolutionBucket = 'under1h' | 'under1day' | 'under3days' | 'over3days'

/**
 * Resolution time ranges in seconds, kept clear of the bucket edges (1 h, 24 h,
 * 72 h) so minute-rounding downstream cannot move a ticket across a bucket.
 */
const RESOLUTION_SECONDS: Readonly<Record<ResolutionBucket, readonly [number, number]>> = {
  under1h: [3 * 60, 58 * 60],
  under1day: [62 * 60, 23 * 3600],
  under3days: [25 * 3600, 71 * 3600],
  over3days: [73 * 3600, 14 * 86400],
}

/** Urgent tickets get resolved faster. */
const RESOLUTION_BY_PRIORITY = {
  High: weightedTable<ResolutionBucket>([['under1h', 35], ['under1day', 40], ['under3days', 18], ['over3days', 7]]),
  Medium: weightedTable<ResolutionBucket>([['under1h', 20], ['under1day', 40], ['under3days', 25], ['over3days', 15]]),
  Low: weightedTable<ResolutionBucket>([['under1h', 10], ['under1day', 30], ['under3days', 30], ['over3days', 30]]),
} as const

/** Longer-running tickets needed more back-and-forth. */
const INTERACTIONS_BY_BUCKET: Readonly<Record<ResolutionBucket | 'open', readonly [number, number]>> = {
  under1h: [1, 3],
  under1day: [2, 6],
  under3days: [3, 10],
  over3days: [5, 20],
  open: [1, 8],
}

/** Relative ticket volume per hour of day (UTC): quiet nights, busy office hours. */
export const HOURLY_VOLUME: readonly number[] = [
  1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 10, 9, 9, 10, 10, 9, 8, 6, 5, 4, 3, 2, 1,
]

// Feedback fragments. Several deliberately carry CSV/JSON/SQL-hostile characters.
const FEEDBACK_RESOLVED = [
  'Resolved on first contact.',
  'Walked the customer through resetting their password.',
  'Escalated to tier 2 for further investigation.',
  'Refund processed; customer satisfied.',
  'Checked billing history, found a double charge, reversed it.',
  'Duplicate of an earlier ticket, merged.',
  'Customer said the app shows "Session expired" every time they log in.',
  'Error shown: "Payment declined (code 51)", advised to contact their bank.',
  'Called twice.\nNo answer the second time, left a voicemail.',
  'Steps taken:\n1. Cleared cache\n2. Reinstalled the app\n3. Confirmed login works',
  'Customer replied by email:\r\nThanks, it works now.',
  'Attached log from C:\\Users\\patient\\AppData\\CarePlus\\app.log to the ticket.',
  'Zip validator used ^\\d{5}$ so ZIP+4 codes failed; fixed.',
  'Patient José Müller couldn’t book — calendar showed no free slots.',
  'Customer wrote « l’application ne marche pas », résolu après mise à jour.',
  'Zoë confirmed the fix — très bien.',
  'Customer was happy with the outcome 😊',
  'Great call, customer thanked us 🙏',
  'Customer said "thanks 👍", closing.',
  'Prescription re-sent to pharmacy, ETA 2 days.',
  'Rebooked appointment for next Tuesday, 10:30.',
  'Insurance ID mismatch, corrected it in the profile.',
] as const

const FEEDBACK_FOLLOW_UP = [
  'Will monitor.',
  'Flagged for QA review 🚩',
  'Follow-up email sent.',
  'No further action needed.',
  'Knowledge-base article "Resetting 2FA" shared.',
  'Customer may reopen, see notes\\history.',
] as const

const FEEDBACK_OPEN = [
  'Awaiting customer response.',
  'Waiting on engineering, bug filed.',
  'Pending refund approval from finance.',
  'Customer unreachable, will retry tomorrow.',
  'Reproduced the issue on Android 14 — investigating.',
] as const

function feedbackFor(rng: Prng, open: boolean): string | null {
  const roll = rng.next()
  if (roll < (open ? 0.3 : 0.07)) return null
  if (roll < (open ? 0.36 : 0.12)) return ''
  let text = open ? rng.pick(FEEDBACK_OPEN) : rng.pick(FEEDBACK_RESOLVED)
  if (rng.chance(0.3)) text += ' ' + rng.pick(FEEDBACK_FOLLOW_UP)
  return text
}

// --- planning ----------------------------------------------------------------

/**
 * Split `total` over `weights` in proportion, as integers summing exactly to
 * `total` (largest remainder method).
 */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0)
  if (!(sum > 0)) throw new RangeError('apportion: weights must sum to a positive number')
  const exact = weights.map((w) => (total * w) / sum)
  const counts = exact.map(Math.floor)
  let left = total - counts.reduce((a, b) => a + b, 0)
  const byRemainder = exact
    .map((x, i) => ({ i, r: x - Math.floor(x) }))
    .sort((p, q) => q.r - p.r || p.i - q.i)
  for (let k = 0; left > 0; k = (k + 1) % byRemainder.length, left--) {
    const i = (byRemainder[k] as { i: number }).i
    counts[i] = (counts[i] as number) + 1
  }
  return counts
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate()
}

/** Weekends are quieter; each day gets some jitter so the month is not flat. */
function dailyWeights(rng: Prng, year: number, month: number, days: number): number[] {
  const weights: number[] = []
  for (let day = 1; day <= days; day++) {
    const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay()
    const base = weekday === 0 || weekday === 6 ? 0.7 : 1
    weights.push(base * rng.float(0.85, 1.15))
  }
  return weights
}

/** A random second of the day following {@link HOURLY_VOLUME}. */
const HOUR_TABLE = weightedTable(HOURLY_VOLUME.map((w, h) => [h, w] as const))
function secondOfDay(rng: Prng): number {
  return rng.weighted(HOUR_TABLE) * 3600 + rng.int(0, 3599)
}

/**
 * The month's tickets, sorted by `created_at` (ties keep id order). Lazy: rows
 * are produced one day at a time.
 */
export function* planTickets(options: TicketPlanOptions): Generator<TicketRow, void, undefined> {
  const { seed, count = 810, year = 2025, month = 7 } = options
  if (!Number.isSafeInteger(seed)) throw new RangeError(`planTickets: seed must be an integer, got ${seed}`)
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`planTickets: count must be a non-negative integer, got ${count}`)
  }
  if (!Number.isInteger(year) || year < 1000 || year > 9999) throw new RangeError(`planTickets: bad year ${year}`)
  if (!Number.isInteger(month) || month < 1 || month > 12) throw new RangeError(`planTickets: bad month ${month}`)

  const rng = createPrng(seed, 'tickets', year, month, count)
  const days = daysInMonth(year, month)
  const perDay = apportion(count, dailyWeights(rng, year, month, days))
  const busiest = Math.max(...perDay)
  // The seed's ids carry a 3-digit daily sequence; scaled-up plans (benchmarks) widen it.
  const seqDigits = Math.max(3, String(busiest - 1).length)

  for (let day = 1; day <= days; day++) {
    const dayStart = Date.UTC(year, month - 1, day) / 1000
    const mmdd = `${PAD2[month]}${PAD2[day]}`
    // Open tickets pile up towards the end of the month: little time to close them.
    const openChance = 0.06 + 0.3 * Math.max(0, (day - (days - 5)) / 5)
    const times = Array.from({ length: perDay[day - 1] as number }, () => secondOfDay(rng)).sort((a, b) => a - b)

    for (let seq = 0; seq < times.length; seq++) {
      const created = dayStart + (times[seq] as number)
      const priority = rng.weighted(PRIORITIES)
      const open = rng.chance(openChance)
      const bucket = open ? 'open' : rng.weighted(RESOLUTION_BY_PRIORITY[CLEAN_PRIORITY[priority] ?? 'Medium'])
      const resolved = bucket === 'open' ? null : created + rng.int(...RESOLUTION_SECONDS[bucket])
      const [minInteractions, maxInteractions] = INTERACTIONS_BY_BUCKET[bucket]
      const numInteractions = rng.chance(INVALID_NUM_INTERACTIONS_RATE)
        ? INVALID_NUM_INTERACTIONS
        : String(rng.int(minInteractions, maxInteractions))

      yield {
        ticket_id: `TCK${mmdd}${String(seq).padStart(seqDigits, '0')}`,
        created_at: formatTimestamp(created),
        resolved_at: resolved === null ? null : formatTimestamp(resolved),
        agent: rng.pick(AGENTS),
        priority,
        num_interactions: numInteractions,
        IssUeCat: rng.weighted(ISSUE_CATEGORIES),
        channel: rng.weighted(CHANNELS),
        status: open ? 'Open' : 'Resolved',
        agent_feedback: feedbackFor(rng, open),
      }
    }
  }
}
