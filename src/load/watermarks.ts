import type { Warehouse, WarehouseTx } from '../warehouse/warehouse.js'

/**
 * Incremental extraction state (ops.watermarks): the highest cursor value
 * loaded per source and cursor column. Moved only by commitLoad, in the
 * transaction of the rows it covers.
 */
export async function readWatermark(wh: Warehouse, source: string, cursorColumn: string): Promise<string | null> {
  const [row] = await wh.query('SELECT value FROM ops.watermarks WHERE source = ? AND cursor_column = ?', [source, cursorColumn])
  return row ? String(row.value) : null
}

export async function writeWatermark(tx: WarehouseTx, source: string, cursorColumn: string, value: string, runId: string, updatedAt: string, signal?: AbortSignal): Promise<void> {
  await tx.run('DELETE FROM ops.watermarks WHERE source = ? AND cursor_column = ?', [source, cursorColumn], signal)
  await tx.run(
    'INSERT INTO ops.watermarks (source, cursor_column, value, run_id, updated_at) VALUES (?, ?, ?, ?, CAST(? AS TIMESTAMP))',
    [source, cursorColumn, value, runId, updatedAt],
    signal,
  )
}
