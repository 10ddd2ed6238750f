/**
 * `node-idle`: a Node process that does nothing, its wall time and peak RSS:
 * the floor under the process cases (`cli-startup`, `cli-parse`) and the RSS
 * the memory targets subtract (the ingest's peak minus an idle node's).
 */
import { runNode } from '../childProcess.js'
import type { BenchCase } from '../harness.js'

const nodeIdle: BenchCase = {
  async run() {
    const m = await runNode(['-e', ''])
    return { bytes: 0, events: 0, seconds: m.seconds, expected: { bytes: 0, events: 0 }, peak_rss_mib: m.peakRssMib }
  },
}
export default nodeIdle
