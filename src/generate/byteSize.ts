/** Human byte sizes for CLI flags such as `--size 1GB`. */

export class InvalidSizeError extends Error {
  readonly code = 'ERR_INVALID_SIZE'
  override readonly name = 'InvalidSizeError'
}

/** Decimal units are powers of 1000, `…iB` units powers of 1024 (IEC). */
const UNIT_BYTES: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
}

const SIZE_RE = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i

/**
 * Parse `300MB`, `1GB`, `1.5GiB`, `512k`, `4096` (case-insensitive) into a
 * whole number of bytes, rounded to the nearest byte. Throws
 * {@link InvalidSizeError} (`code: 'ERR_INVALID_SIZE'`) for anything else,
 * and for a size under one byte: every caller sizes data to produce, and
 * "produce nothing" is a mistake, not a request.
 */
export function parseByteSize(s: string): number {
  if (typeof s === 'string' && /^\s*-/.test(s)) {
    throw new InvalidSizeError(`Invalid size ${JSON.stringify(s)}: a size cannot be negative`)
  }
  const m = typeof s === 'string' ? SIZE_RE.exec(s) : null
  const unit = m ? UNIT_BYTES[(m[2] as string).toLowerCase()] : undefined
  if (!m || unit === undefined) {
    throw new InvalidSizeError(
      `Invalid size ${JSON.stringify(s)}: expected a number with an optional unit ` +
        '(B, kB, MB, GB, TB — powers of 1000 — or KiB, MiB, GiB, TiB — powers of 1024), e.g. 300MB or 1.5GiB',
    )
  }
  const bytes = Math.round(Number(m[1]) * unit)
  if (!Number.isSafeInteger(bytes)) {
    throw new InvalidSizeError(`Invalid size ${JSON.stringify(s)}: ${bytes} bytes is too large`)
  }
  if (bytes < 1) throw new InvalidSizeError(`Invalid size ${JSON.stringify(s)}: must be at least 1 byte`)
  return bytes
}
