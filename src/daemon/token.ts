import { randomBytes } from 'node:crypto'
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

/** The control API's bearer token: `$CAREPLUS_HOME/daemon.token`, mode 0600. */
export function tokenFile(home: string): string {
  return path.join(home, 'daemon.token')
}

/** The token, created (32 random bytes, base64url) at the daemon's first start and kept across restarts. */
export function ensureToken(home: string): string {
  const file = tokenFile(home)
  try {
    writeFileSync(file, randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    // Named case: the token of an earlier start is kept, so clients holding it keep working.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  // A file copied in with looser permissions is tightened: the token grants writes and reads of data.
  chmodSync(file, 0o600)
  return readFileSync(file, 'utf8').trim()
}

/** The token a client sends; undefined when the file is missing or unreadable (the daemon answers 401). */
export function readToken(home: string): string | undefined {
  try {
    return readFileSync(tokenFile(home), 'utf8').trim() || undefined
  } catch {
    // Named case: no token file (never started, or another user's home): the request goes without one.
    return undefined
  }
}
