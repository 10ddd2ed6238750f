/**
 * `cli-parse`: `careplus parse <input> --format csv > /dev/null` in a fresh
 * process, timed from its spawn to its exit: what a user waits for, against
 * `parse-csv` (the same chain inside one process, its hot section only).
 */
import { fileURLToPath } from 'node:url'
import { runNode } from '../childProcess.js'
import type { BenchCase } from '../harness.js'

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))

const cliParse: BenchCase = {
  async run({ input }) {
    const m = await runNode([CLI, 'parse', input.file, '--format', 'csv', '--stats'])
    // `--stats`: "blocks N = rows R + rejects J; …" on stderr, after the rejects.
    const stats = /^blocks (\d+) = rows \d+ \+ rejects \d+; ([\d.]+) MB/m.exec(m.stderr)
    if (!stats) throw new Error(`cli-parse: no --stats line in ${JSON.stringify(m.stderr.slice(-300))}`)
    const mb = Number(stats[2])
    if (Math.abs(mb - input.bytes / 1e6) > 0.05) throw new Error(`cli-parse: the CLI read ${mb} MB of a ${(input.bytes / 1e6).toFixed(1)} MB input`)
    return { bytes: input.bytes, events: Number(stats[1]), seconds: m.seconds, peak_rss_mib: m.peakRssMib }
  },
}
export default cliParse
