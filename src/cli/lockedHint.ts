import type { Config } from '../config.js'
import { DaemonClient } from './daemonClient.js'

/**
 * ERR_WAREHOUSE_LOCKED as something to act on: either a reachable daemon
 * holds the file (and this command does not go through it), or something
 * that is not a reachable daemon does.
 */
export async function lockedHint(cfg: Config, message: string): Promise<string> {
  const daemon = await DaemonClient.find(cfg).catch(() => undefined)
  const what = daemon
    ? `the careplus daemon at ${daemon.base} holds it, and this command does not go through the daemon: run it while the daemon is stopped (query, run, clear, pause, backfill, logs, ingest-*, transform work alongside it)`
    : `no careplus daemon answers for CAREPLUS_HOME=${cfg.home} (no daemon.json, or a stale one): stop the process that holds the file (DuckDB names it above), or point CAREPLUS_HOME at the home of the daemon that has it`
  return `ERR_WAREHOUSE_LOCKED: ${message}; ${what}`
}
