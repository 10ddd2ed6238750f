import { randomBytes } from 'node:crypto'

/** Sortable, unique run ids: `20261126T173700Z-1a2b3c`. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  return `${stamp}-${randomBytes(3).toString('hex')}`
}
