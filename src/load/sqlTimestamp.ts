/**
 * The one format the pipeline writes timestamps to the warehouse in
 * (`CAST(? AS TIMESTAMP)` binds, COPY constants): `YYYY-MM-DD HH:MM:SS.mmm`,
 * UTC, no zone. Both engines read it the same way with TIMESTAMP_INPUT_FORMAT
 * AUTO, and it sorts as text.
 */
export function sqlTimestamp(d: Date = new Date()): string {
  return d.toISOString().replace('T', ' ').replace('Z', '')
}
