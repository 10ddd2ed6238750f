/** `careplus generate [--out dir …] [--tickets …]`: deterministic sample logs and/or tickets in MySQL. */
import { InvalidArgumentError } from 'commander'
import { parseByteSize } from '../generate/byteSize.js'
import { generateLogs } from '../generate/logGenerator.js'
import { seedTickets } from '../sources/ticketSeeder.js'
import { mysqlSettings } from '../sources/mysql.js'
import type { CommandContext } from './commandContext.js'
import { byteProgress } from './progress.js'

export interface GenerateOptions {
  out?: string
  days: number
  events: number
  seed: number
  size?: string
  tickets?: boolean
  count: number
}

export async function generateCommand(o: GenerateOptions, ctx: CommandContext): Promise<void> {
  if (!o.out && !o.tickets) throw new InvalidArgumentError('say what to generate: --out <dir> for logs, --tickets for MySQL tickets, or both')
  if (o.out) {
    const sizeBytes = o.size === undefined ? undefined : parseByteSize(o.size)
    const bar = byteProgress('generate')
    if (sizeBytes) bar.start(sizeBytes)
    let last = 0
    const r = await generateLogs({
      outDir: o.out,
      days: o.days,
      events: o.events,
      seed: o.seed,
      sizeBytes,
      signal: ctx.signal,
      onProgress: (b) => {
        bar.add(b - last)
        last = b
      },
    })
    bar.stop()
    process.stdout.write(`wrote ${r.files.length} files, ${r.events} events, ${(r.bytes / 1e6).toFixed(2)} MB to ${o.out}\n`)
  }
  if (o.tickets) {
    const cfg = ctx.config()
    const s = mysqlSettings(cfg)
    const r = await seedTickets({ ...s, database: cfg.MYSQL_DATABASE }, { count: o.count, seed: o.seed, signal: ctx.signal })
    process.stdout.write(
      `tickets: ${r.planned} planned, ${r.inserted} inserted (${r.planned - r.inserted} already there) into ${cfg.MYSQL_DATABASE}.support_tickets at ${s.host}:${s.port} in ${r.seconds.toFixed(2)} s\n`,
    )
  }
}
