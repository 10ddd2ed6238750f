/** `parse-csv-gzip-3`: as `parse-csv-gzip`, at gzip level 3 (between the default 6 and the fastest 1). */
import type { BenchCase } from '../harness.js'
import { runParseCsvGzip } from './parseCsvGzip.js'

const parseCsvGzip3: BenchCase = {
  run: (ctx) => runParseCsvGzip(ctx, { level: 3 }),
}
export default parseCsvGzip3
