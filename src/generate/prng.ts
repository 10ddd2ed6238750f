/**
 * Small, fast, seeded PRNG (sfc32, seeded through splitmix32) for
 * deterministic sample data: the same seed always yields the same sequence,
 * on every platform, unlike `Math.random()`.
 */

/** A value with its relative weight, for {@link Prng.weighted}. */
export type Weighted<T> = readonly [value: T, weight: number]

/** Weights pre-summed once, so a weighted pick is one draw plus a short scan. */
export interface WeightedTable<T> {
  readonly values: readonly T[]
  /** Running totals of the weights, last one is the total. */
  readonly cumulative: readonly number[]
  readonly total: number
}

export function weightedTable<T>(entries: readonly Weighted<T>[]): WeightedTable<T> {
  if (entries.length === 0) throw new RangeError('weightedTable: no entries')
  const values: T[] = []
  const cumulative: number[] = []
  let total = 0
  for (const [value, weight] of entries) {
    if (!(weight >= 0) || !Number.isFinite(weight)) {
      throw new RangeError(`weightedTable: invalid weight ${weight}`)
    }
    total += weight
    values.push(value)
    cumulative.push(total)
  }
  if (total <= 0) throw new RangeError('weightedTable: weights sum to 0')
  return { values, cumulative, total }
}

/** One splitmix32 step: good avalanche, used to spread a seed over sfc32's state. */
function splitmix32(state: number): number {
  let z = (state + 0x9e3779b9) | 0
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad)
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97)
  return (z ^ (z >>> 15)) >>> 0
}

/** FNV-1a over UTF-16 code units; only used to turn labels into seed material. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x01000193)
  }
  return h >>> 0
}

/**
 * Derive an independent 32-bit seed for a named sub-stream, e.g.
 * `deriveSeed(42, 'logs', day)`, so that one part of the data (a day's logs)
 * does not shift when another part (the ticket plan) changes.
 */
export function deriveSeed(seed: number, ...labels: readonly (string | number)[]): number {
  let h = splitmix32(seed >>> 0 ^ Math.floor(seed / 0x100000000))
  for (const label of labels) {
    h = splitmix32(h ^ hashLabel(String(label)))
  }
  return h
}

export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Prng: seed must be a finite number, got ${seed}`)
    let s = deriveSeed(seed)
    this.a = s = splitmix32(s)
    this.b = s = splitmix32(s)
    this.c = s = splitmix32(s)
    this.d = splitmix32(s)
    // Discard the first outputs: sfc32 mixes its state in over ~a dozen rounds.
    for (let i = 0; i < 12; i++) this.uint32()
  }

  /** Next raw 32-bit unsigned integer. */
  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    if (max < min) throw new RangeError(`Prng.int: max ${max} < min ${min}`)
    return min + Math.floor(this.next() * (max - min + 1))
  }

  /** Uniform float in [min, max). */
  float(min: number, max: number): number {
    return min + this.next() * (max - min)
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Prng.pick: empty list')
    return items[Math.floor(this.next() * items.length)] as T
  }

  weighted<T>(table: WeightedTable<T>): T {
    const x = this.next() * table.total
    const { cumulative, values } = table
    const last = values.length - 1
    for (let i = 0; i < last; i++) {
      if (x < (cumulative[i] as number)) return values[i] as T
    }
    return values[last] as T
  }

  /** `n` lowercase hex digits. */
  hex(n: number): string {
    let out = ''
    while (out.length < n) out += this.uint32().toString(16).padStart(8, '0')
    return out.slice(0, n)
  }
}

/** Convenience: `createPrng(deriveSeed(seed, 'tickets'))` reads better at call sites. */
export function createPrng(seed: number, ...labels: readonly (string | number)[]): Prng {
  return new Prng(labels.length === 0 ? seed : deriveSeed(seed, ...labels))
}
