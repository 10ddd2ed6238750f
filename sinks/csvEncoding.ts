/*
 * The one CSV dialect every staged file uses, and that every loader reads:
 * RFC 4180 quoting with `"` doubled, `\n` records, a header row, UTF-8.
 * NULL is an empty unquoted field; an empty string is `""`, so loaders can
 * keep the two apart (DuckDB: allow_quoted_nulls=false; Snowflake:
 * EMPTY_FIELD_AS_NULL=TRUE with FIELD_OPTIONALLY_ENCLOSED_BY='"').
 */

/** The header row: the column names as fields (identifiers: never quoted). */
export function csvHeader(columns: readonly string[]): string {
  return columns.map(csvField).join(',') + '\n'
}

/**
 * A field is quoted when it holds the delimiter, the quote, a `\n` or a `\r`
 * (a lone `\r` ends a record for some CSV readers).
 */
const NEEDS_QUOTES = /[",\n\r]/

/**
 * One field, as csv-stringify writes it with the options
 * `quoted_match: [/^$/, /\r/]` and a unix record delimiter (booleans as
 * true/false, dates as ISO strings, other objects as JSON).
 */
export function csvField(v: unknown): string {
  switch (typeof v) {
    case 'string':
      if (v === '') return '""'
      return NEEDS_QUOTES.test(v) ? `"${v.replaceAll('"', '""')}"` : v
    case 'number':
    case 'bigint':
      return '' + v
    case 'boolean':
      // csv-stringify renders booleans as '1'/'' by default; these stay readable and loadable.
      return v ? 'true' : 'false'
    case 'undefined':
      return ''
    case 'object':
      if (v === null) return ''
      if (v instanceof Date) return v.toISOString()
      return csvField(JSON.stringify(v))
    default:
      throw new TypeError(`encodeCsvBatch: cannot encode a ${typeof v}`)
  }
}

/**
 * Encodes a batch of records to CSV text in one string, which is what gzip
 * wants (per-row writes into zlib were ~13x slower on this project's
 * machines). Hand-written for the one dialect above: byte for byte what
 * csv-stringify's sync API writes with the options at `csvField` (see
 * test/sinks/csvEncoding.test.ts), which is what the stage wrote before except
 * that a lone `\r` is now quoted. csv-stringify's per-field option handling
 * was ~60 % of a parse → CSV run; this took bench/'s `parse-csv` from ~45–65
 * to ~120–140 MB/s on a 2-core machine.
 */
export function encodeCsvBatch<T extends object>(records: readonly T[], columns: readonly (keyof T & string)[]): string {
  let out = ''
  const last = columns.length - 1
  for (const record of records) {
    const r = record as Record<string, unknown>
    for (let i = 0; i < last; i++) out += csvField(r[columns[i]!]) + ','
    out += csvField(r[columns[last]!]) + '\n'
  }
  return out
}
