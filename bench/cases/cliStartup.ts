/** `cli-startup`: `careplus --help` (dist/src/cli.js) in a fresh process, fastest of STARTS: what every command pays before its work. */
import { fileURLToPath } from 'node:url'
import { runNode } from '../childProcess.js'
import type { BenchCase } from '../harness.js'

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))
const STARTS = 10

const cliStartup: BenchCase = {
  async run() {
    let seconds = Infinity
    let peak = 0
    for (let i = 0; i < STARTS; i++) {
      const m = await runNode([CLI, '--help'])
      seconds = Math.min(seconds, m.seconds)
      peak = Math.max(peak, m.peakRssMib)
    }
    return { bytes: 0, events: 0, seconds, expected: { bytes: 0, events: 0 }, peak_rss_mib: peak }
  },
}
export default cliStartup
