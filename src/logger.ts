import pino, { type Logger } from 'pino'
import pretty from 'pino-pretty'

/** Keys whose values never reach a log line, wherever they sit in an object. */
export const REDACT_PATHS = ['password', '*.password', 'secretAccessKey', '*.secretAccessKey', 'privateKey', '*.privateKey', 'passphrase', '*.passphrase', 'credentials', '*.credentials']

/** Logs go to stderr (stdout is for command output): readable on a terminal, JSON lines elsewhere. */
export function createLogger(level: string): Logger {
  const opts = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }
  if (process.stderr.isTTY) {
    return pino(opts, pretty({ destination: 2, sync: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss' }))
  }
  return pino(opts, pino.destination({ dest: 2, sync: true }))
}
