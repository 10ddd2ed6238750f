import { existsSync } from 'node:fs'
import path from 'node:path'
import { PipelineError } from './errors.js'
import { projectRoot } from './projectRoot.js'

/**
 * The compiled entry of a child process we start (`src/…/x.ts` → `dist/src/…/x.js`):
 * tests run from TypeScript sources, a child always runs built JS.
 */
export function builtEntry(srcPath: string, what: string): string {
  const entry = path.join(projectRoot(), 'dist', srcPath.replace(/\.ts$/, '.js'))
  if (!existsSync(entry)) throw new PipelineError('ERR_NOT_BUILT', `${what} entry ${entry} is missing: run "npm run build"`)
  return entry
}
