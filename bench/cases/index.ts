/** Every benchmark case by name, in the order the suite runs them; each module is loaded only by the process that runs it. */
import type { BenchCase } from '../harness.js'

type Loader = () => Promise<{ default: BenchCase }>

export const CASES: Readonly<Record<string, { load: Loader; prepare?: true }>> = {
  'node-idle': { load: () => import('./nodeIdle.js') },
  'cli-startup': { load: () => import('./cliStartup.js') },
  read: { load: () => import('./read.js') },
  'split2-lines': { load: () => import('./split2Lines.js') },
  parse: { load: () => import('./parse.js') },
  'parse-csv': { load: () => import('./parseCsv.js') },
  'csv-encode': { load: () => import('./csvEncode.js') },
  'cli-parse': { load: () => import('./cliParse.js') },
  'parse-csv-gzip': { load: () => import('./parseCsvGzip.js') },
  'parse-csv-gzip-3': { load: () => import('./parseCsvGzip3.js') },
  'parse-csv-gzip-1': { load: () => import('./parseCsvGzip1.js') },
  'parse-csv-gzip-2files': { load: () => import('./parseCsvGzip2Files.js') },
  'parse-csv-gzip-1mb-chunk': { load: () => import('./parseCsvGzipBigChunk.js') },
  'stage-e2e': { load: () => import('./stageE2e.js'), prepare: true },
  'load-1-object': { load: () => import('./loadOneObject.js'), prepare: true },
  'get-5000-objects': { load: () => import('./getManyObjects.js'), prepare: true },
  'load-5000-objects': { load: () => import('./loadManyObjects.js'), prepare: true },
}

export function isCaseName(name: string): boolean {
  return Object.hasOwn(CASES, name)
}
