/**
 * Errors a user can act on carry a stable `code`; the CLI prints their message
 * as one line and exits non-zero. Anything without a code is a bug and gets a
 * stack trace under LOG_LEVEL=debug.
 */
export class PipelineError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'PipelineError'
  }
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { code?: string }).code === 'ABORT_ERR')
}

/** A multi-line message (a driver's, a server's) as one line. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim()
}
