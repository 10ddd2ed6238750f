/** `parse-csv-gzip-2files`: as `parse-csv-gzip`, with the object's rows dealt to two staged files compressing at once (two zlib streams on libuv's pool). */
import { constants as zlibConstants } from 'node:zlib'
import type { BenchCase } from '../harness.js'
import { runParseCsvGzip } from './parseCsvGzip.js'

const parseCsvGzip2Files: BenchCase = {
  run: (ctx) => runParseCsvGzip(ctx, { level: zlibConstants.Z_DEFAULT_COMPRESSION, concurrentFiles: 2 }),
}
export default parseCsvGzip2Files
