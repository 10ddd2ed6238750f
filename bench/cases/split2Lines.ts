/**
 * `split2-lines`: split2 cutting the same bytes into lines and nothing more:
 * what any parser built on a line splitter cannot beat.
 */
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import split2 from 'split2'
import { openInput, stopwatch, type BenchCase } from '../harness.js'

const split2Lines: BenchCase = {
  async run({ input }) {
    let lines = 0
    const lineSink = new Writable({
      objectMode: true,
      write(_line: string, _enc, cb) {
        lines++
        cb()
      },
    })
    const elapsed = stopwatch()
    const source = openInput(input.file)
    await pipeline(source, split2(), lineSink)
    const seconds = elapsed()
    if (lines === 0 && input.bytes > 0) throw new Error('split2-lines: no lines')
    return { bytes: source.bytesRead, events: input.events, seconds }
  },
}
export default split2Lines
