/** `read`: stream the input and do nothing with it: the I/O ceiling of every other case. */
import { pipeline } from 'node:stream/promises'
import { DiscardSink, openInput, stopwatch, type BenchCase } from '../harness.js'

const read: BenchCase = {
  async run({ input }) {
    const elapsed = stopwatch()
    const source = openInput(input.file)
    await pipeline(source, new DiscardSink())
    return { bytes: source.bytesRead, events: input.events, seconds: elapsed() }
  },
}
export default read
