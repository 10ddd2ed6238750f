/** `parse-csv-gzip-1mb-chunk`: as `parse-csv-gzip`, with a 1 MiB zlib output buffer instead of the stage's 256 KiB. */
import { constants as zlibConstants } from 'node:zlib'
import type { BenchCase } from '../harness.js'
import { runParseCsvGzip } from './parseCsvGzip.js'

const parseCsvGzipBigChunk: BenchCase = {
  run: (ctx) => runParseCsvGzip(ctx, { level: zlibConstants.Z_DEFAULT_COMPRESSION, chunkBytes: 1024 * 1024 }),
}
export default parseCsvGzipBigChunk
