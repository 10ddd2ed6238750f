/** `parse-csv-gzip-1`: as `parse-csv-gzip`, at gzip level 1 (fastest). */
import { constants as zlibConstants } from 'node:zlib'
import type { BenchCase } from '../harness.js'
import { runParseCsvGzip } from './parseCsvGzip.js'

const parseCsvGzip1: BenchCase = {
  run: (ctx) => runParseCsvGzip(ctx, { level: zlibConstants.Z_BEST_SPEED }),
}
export default parseCsvGzip1
