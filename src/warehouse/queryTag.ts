import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * What a warehouse statement is part of: the run (its id is the `_run_id`
 * the run writes into bronze) and the task. Engines that can label their
 * statements (Snowflake's QUERY_TAG, visible in QUERY_HISTORY) send it with
 * every statement issued inside `withQueryTag`; DuckDB ignores it.
 */
export interface QueryTag {
  run_id?: string
  task?: string
}

const current = new AsyncLocalStorage<QueryTag>()

/** Runs `fn` with `tag` (merged over any enclosing tag) attached to the statements it issues. */
export function withQueryTag<T>(tag: QueryTag | undefined, fn: () => T): T {
  if (!tag || Object.keys(tag).length === 0) return fn()
  return current.run({ ...current.getStore(), ...tag }, fn)
}

/** The tag of the statements issued here, if any. */
export function currentQueryTag(): QueryTag | undefined {
  return current.getStore()
}

/** The text sent as QUERY_TAG: JSON, so QUERY_HISTORY can be filtered with `TRY_PARSE_JSON(query_tag):run_id`. */
export function queryTagText(tag: QueryTag | undefined): string {
  const fields: Record<string, string> = { app: 'careplus' }
  if (tag?.run_id) fields.run_id = tag.run_id
  if (tag?.task) fields.task = tag.task
  return JSON.stringify(fields)
}
