/**
 * Preloaded (`node --import`) into a process measured by bench/childProcess.ts:
 * at exit, its peak RSS in KiB on fd 3. Nothing else; the process is otherwise
 * the one measured.
 */
import { writeSync } from 'node:fs'

process.once('exit', () => {
  writeSync(3, `${process.resourceUsage().maxRSS}\n`)
})
