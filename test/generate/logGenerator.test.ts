import { existsSync } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { formatBlock, generateLogs, type LogEvent } from '../../src/generate/logGenerator.js'
import { parseTimestamp, planTickets } from '../../src/generate/ticketPlan.js'

// The six lines of a block, checked independently of the generator's own formatter.
const LINE_1 =
  /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) \[(INFO|DEBUG|WARNING|ERROR|INF0|DEBG|warnING|EROR)\] (careplus\.support\.(?:Generic|Auth|Ticket|Payment|Notification)Service) - TicketID=(TCK\d{7}) SessionID=(sess_TCK\d{7})$/
const LINE_2 =
  /^IP=(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}) \| ResponseTime=(-?\d+)ms \| CPU=(\d{1,2}\.\d{2})% \| EventType=([a-z_]+) \| Error=(true|false)$/
const LINE_3 = /^UserAgent="([^"\n]+)"$/
const LINE_4 = /^Message="([^"\n]*)"$/
const LINE_5 = /^Debug="([^"\n]+)"$/
const LINE_6 = /^TraceID=(None|[0-9a-f]{32})$/

interface ParsedBlock {
  raw: string
  file: string
  timestamp: string
  level: string
  service: string
  ticketId: string
  sessionId: string
  ip: string
  responseTime: number
  cpu: number
  eventType: string
  error: boolean
  userAgent: string
  message: string
  debug: string
  traceId: string
}

async function readBlocks(t: Test, files: string[]): Promise<ParsedBlock[]> {
  const blocks: ParsedBlock[] = []
  for (const file of files) {
    const text = await readFile(file, 'utf8')
    if (text === '') continue
    t.ok(text.endsWith('\n---\n'), `${file} ends with a separator`)
    const raws = text.split('---\n')
    t.equal(raws.pop(), '', 'nothing after the last separator')
    for (const raw of raws) {
      const lines = raw.split('\n')
      const l1 = LINE_1.exec(lines[0] ?? '')
      const l2 = LINE_2.exec(lines[1] ?? '')
      const l3 = LINE_3.exec(lines[2] ?? '')
      const l4 = LINE_4.exec(lines[3] ?? '')
      const l5 = LINE_5.exec(lines[4] ?? '')
      const l6 = LINE_6.exec(lines[5] ?? '')
      if (lines.length !== 7 || lines[6] !== '' || !l1 || !l2 || !l3 || !l4 || !l5 || !l6) {
        t.fail('block does not match the seed shape', { raw })
        continue
      }
      blocks.push({
        raw,
        file,
        timestamp: l1[1] as string,
        level: l1[2] as string,
        service: l1[3] as string,
        ticketId: l1[4] as string,
        sessionId: l1[5] as string,
        ip: l2[1] as string,
        responseTime: Number(l2[2]),
        cpu: Number(l2[3]),
        eventType: l2[4] as string,
        error: l2[5] === 'true',
        userAgent: l3[1] as string,
        message: l4[1] as string,
        debug: l5[1] as string,
        traceId: l6[1] as string,
      })
    }
  }
  return blocks
}

async function totalSize(files: string[]): Promise<number> {
  let total = 0
  for (const f of files) total += (await stat(f)).size
  return total
}

async function separators(files: string[]): Promise<number> {
  let n = 0
  for (const f of files) n += (await readFile(f, 'utf8')).split('\n').filter((l) => l === '---').length
  return n
}

t.test('formatBlock writes the seed block byte for byte', async (t) => {
  const seedExample: LogEvent = {
    timestamp: '2025-07-01 00:21:00',
    log_level: 'INFO',
    service: 'careplus.support.GenericService',
    ticket_id: 'TCK0701000',
    session_id: 'sess_TCK0701000',
    ip: '60.130.155.7',
    response_time_ms: 1269,
    cpu_percent: 27.64,
    event_type: 'generic_event',
    error: false,
    user_agent: 'PostmanRuntime/7.32.2',
    message: ' event for TCK0701000',
    debug: 'ℹ️ Logged for monitoring',
    trace_id: null,
  }
  t.equal(
    formatBlock(seedExample),
    '2025-07-01 00:21:00 [INFO] careplus.support.GenericService - TicketID=TCK0701000 SessionID=sess_TCK0701000\n' +
      'IP=60.130.155.7 | ResponseTime=1269ms | CPU=27.64% | EventType=generic_event | Error=false\n' +
      'UserAgent="PostmanRuntime/7.32.2"\n' +
      'Message=" event for TCK0701000"\n' +
      'Debug="ℹ️ Logged for monitoring"\n' +
      'TraceID=None\n' +
      '---\n',
  )
  t.equal(
    formatBlock({ ...seedExample, log_level: 'EROR', response_time_ms: -749, cpu_percent: 5, error: true, trace_id: 'ab12' }),
    '2025-07-01 00:21:00 [EROR] careplus.support.GenericService - TicketID=TCK0701000 SessionID=sess_TCK0701000\n' +
      'IP=60.130.155.7 | ResponseTime=-749ms | CPU=5.00% | EventType=generic_event | Error=true\n' +
      'UserAgent="PostmanRuntime/7.32.2"\n' +
      'Message=" event for TCK0701000"\n' +
      'Debug="ℹ️ Logged for monitoring"\n' +
      'TraceID=ab12\n' +
      '---\n',
  )
})

t.test('the default run imitates the seed logs', async (t) => {
  const dir = t.testdir()
  const progress: number[] = []
  const result = await generateLogs({ outDir: dir, onProgress: (b) => progress.push(b) })

  const expectedNames = Array.from({ length: 31 }, (_, i) => `careplus-2025-07-${String(i + 1).padStart(2, '0')}.log`)
  t.same((await readdir(dir)).sort(), expectedNames, '31 files, one per July day')
  t.same(result.files, expectedNames.map((n) => join(dir, n)), 'returned in day order')
  t.equal(result.events, 2650)
  t.equal(await separators(result.files), result.events, 'events = number of --- separators (duplicates included)')
  t.equal(await totalSize(result.files), result.bytes, 'bytes = total file size')
  t.equal(progress.at(-1), result.bytes, 'last progress report is the total')
  t.ok(progress.every((b, i) => i === 0 || b > (progress[i - 1] as number)), 'progress only grows')

  const blocks = await readBlocks(t, result.files)
  t.equal(blocks.length, 2650, 'every block has the exact six-line shape')

  await t.test('each day file holds that day, sorted by time', async (t) => {
    for (const file of result.files) {
      const day = /careplus-(\d{4}-\d{2}-\d{2})\.log$/.exec(file)?.[1]
      const stamps = blocks.filter((b) => b.file === file).map((b) => b.timestamp)
      t.ok(stamps.length >= 40 && stamps.length <= 140, `${day}: ${stamps.length} events`)
      t.ok(stamps.every((s) => s.startsWith(`${day} `)), `${day}: all events on that day`)
      t.same(stamps, [...stamps].sort(), `${day}: sorted`)
    }
  })

  await t.test('events are about planned tickets, after their creation', async (t) => {
    const created = new Map([...planTickets({ seed: 42 })].map((r) => [r.ticket_id, parseTimestamp(r.created_at)]))
    let bad = 0
    for (const b of blocks) {
      const at = created.get(b.ticketId)
      if (at === undefined || at > parseTimestamp(b.timestamp) || b.sessionId !== `sess_${b.ticketId}`) bad++
    }
    t.equal(bad, 0, 'every ticket id exists, created_at <= event time, session is sess_<ticket>')
    t.ok(new Set(blocks.map((b) => b.ticketId)).size > 400, 'many different tickets are logged')
    t.ok(blocks.every((b) => b.message.includes(b.ticketId)), 'Message mentions the ticket')
    t.ok(blocks.some((b) => b.message === ` event for ${b.ticketId}`), 'the seed\'s generic " event for" message')
  })

  await t.test('the seed dirt appears at a few percent', async (t) => {
    const share = (pred: (b: ParsedBlock) => boolean) => blocks.filter(pred).length / blocks.length
    for (const level of ['INF0', 'DEBG', 'EROR', 'warnING']) {
      const s = share((b) => b.level === level)
      t.ok(s >= 0.01 && s <= 0.06, `level ${level}: ${(s * 100).toFixed(1)} %`)
    }
    for (const level of ['INFO', 'DEBUG', 'WARNING', 'ERROR']) t.ok(share((b) => b.level === level) > 0.05, level)
    const negative = blocks.filter((b) => b.responseTime < 0)
    t.ok(negative.length / blocks.length >= 0.01 && negative.length / blocks.length <= 0.06, `${negative.length} negative times`)
    t.ok(negative.every((b) => b.responseTime >= -999))

    let duplicates = 0
    for (let i = 1; i < blocks.length; i++) {
      if ((blocks[i] as ParsedBlock).raw === (blocks[i - 1] as ParsedBlock).raw) duplicates++
    }
    t.ok(duplicates >= 25 && duplicates <= 130, `${duplicates} exact duplicate blocks`)
    const distinctKeys = new Set(blocks.map((b) => `${b.timestamp}|${b.ticketId}|${b.ip}`)).size
    t.equal(blocks.length - distinctKeys, duplicates, 'duplicates share timestamp + ticket + IP; other events do not collide')

    const none = share((b) => b.traceId === 'None')
    t.ok(none > 0.6 && none < 0.95, `TraceID=None for most (${(none * 100).toFixed(0)} %)`)
  })

  await t.test('values span the ranges downstream buckets need', async (t) => {
    const times = blocks.map((b) => b.responseTime).filter((r) => r >= 0)
    t.ok(times.some((r) => r < 500), 'fast (<500 ms)')
    t.ok(times.some((r) => r >= 500 && r < 1000), 'normal (500–999 ms)')
    t.ok(times.some((r) => r >= 1000), 'slow (>=1000 ms)')
    const cpus = blocks.map((b) => b.cpu)
    t.ok(Math.min(...cpus) >= 1 && Math.min(...cpus) < 3, `CPU min ${Math.min(...cpus)}`)
    t.ok(Math.max(...cpus) > 97 && Math.max(...cpus) < 100, `CPU max ${Math.max(...cpus)}`)
    t.ok(cpus.some((c) => c >= 50 && c < 80), 'medium CPU')

    t.equal(new Set(blocks.map((b) => b.service)).size, 5, 'all five services')
    const typesByService = new Map<string, Set<string>>()
    for (const b of blocks) typesByService.set(b.service, (typesByService.get(b.service) ?? new Set()).add(b.eventType))
    t.same([...(typesByService.get('careplus.support.GenericService') ?? [])], ['generic_event'])
    t.ok([...(typesByService.get('careplus.support.PaymentService') ?? [])].every((e) => /payment|refund/.test(e)))
    t.ok([...(typesByService.get('careplus.support.TicketService') ?? [])].every((e) => e.startsWith('ticket_')))
    t.ok(new Set(blocks.map((b) => b.userAgent)).size >= 6, 'several user agents')
    t.ok(blocks.some((b) => b.userAgent === 'PostmanRuntime/7.32.2'))
    t.ok(blocks.every((b) => /\p{Extended_Pictographic}/u.test(b.debug)), 'Debug always carries an emoji')

    const errorShare = (levels: string[]) => {
      const at = blocks.filter((b) => levels.includes(b.level))
      return at.filter((b) => b.error).length / at.length
    }
    t.ok(errorShare(['ERROR', 'EROR']) > 0.7, 'Error=true on most ERROR events')
    t.ok(errorShare(['INFO', 'INF0', 'DEBUG', 'DEBG']) < 0.05, 'rarely on INFO/DEBUG')
    const trueErrors = blocks.filter((b) => b.error)
    t.ok(trueErrors.filter((b) => /^(ERROR|EROR)$/.test(b.level)).length / trueErrors.length > 0.7, 'Error=true is mostly ERROR')
  })
})

t.test('same options give identical bytes; another seed differs', async (t) => {
  const dir = t.testdir({ a: {}, b: {}, c: {} })
  const a = await generateLogs({ outDir: join(dir, 'a'), days: 5, events: 500, seed: 7 })
  const b = await generateLogs({ outDir: join(dir, 'b'), days: 5, events: 500, seed: 7 })
  const c = await generateLogs({ outDir: join(dir, 'c'), days: 5, events: 500, seed: 8 })
  t.equal(a.bytes, b.bytes)
  for (let i = 0; i < 5; i++) {
    const bytesA = await readFile(a.files[i] as string)
    t.ok(bytesA.equals(await readFile(b.files[i] as string)), `day ${i + 1} identical`)
    t.notOk(bytesA.equals(await readFile(c.files[i] as string)), `day ${i + 1} differs for another seed`)
  }
  t.equal(await separators(a.files), 500)
})

t.test('days past July continue into August', async (t) => {
  const dir = t.testdir()
  const result = await generateLogs({ outDir: dir, days: 33, events: 330 })
  t.equal(result.files.length, 33)
  t.match(result.files[31], /careplus-2025-08-01\.log$/)
  t.match(result.files[32], /careplus-2025-08-02\.log$/)
  const august = await readBlocks(t, result.files.slice(31))
  t.ok(august.length > 0)
  t.ok(august.every((b) => b.timestamp.startsWith('2025-08-0')))
  t.equal(await separators(result.files), 330)
})

t.test('sizeBytes scales the event count to the requested size', async (t) => {
  const dir = t.testdir()
  const result = await generateLogs({ outDir: dir, sizeBytes: 5_000_000 })
  const written = await totalSize(result.files)
  t.equal(written, result.bytes)
  t.ok(Math.abs(written / 5_000_000 - 1) < 0.05, `${written} bytes is within 5 % of 5 MB`)
  t.ok(result.events > 10_000, `${result.events} events`)
  t.equal(await separators(result.files), result.events)
})

t.test('abort stops generation with an AbortError', async (t) => {
  const dir = t.testdir({ pre: {}, mid: {} })
  const aborted = AbortSignal.abort()
  await t.rejects(generateLogs({ outDir: join(dir, 'pre'), signal: aborted }), { name: 'AbortError' })
  t.same(await readdir(join(dir, 'pre')), [], 'nothing written when aborted up front')

  const controller = new AbortController()
  const target = 200_000_000
  await t.rejects(
    generateLogs({
      outDir: join(dir, 'mid'),
      sizeBytes: target,
      signal: controller.signal,
      onProgress: (bytes) => {
        if (bytes > 1_000_000) controller.abort()
      },
    }),
    { name: 'AbortError', code: 'ABORT_ERR' },
  )
  const left = await readdir(join(dir, 'mid'))
  const size = await totalSize(left.map((f) => join(dir, 'mid', f)))
  t.ok(left.length >= 1 && left.length < 31, `stopped after ${left.length} file(s)`)
  t.ok(size < 20_000_000, `only ${size} bytes written`)
})

t.test('bad options are rejected', async (t) => {
  const dir = t.testdir()
  await t.rejects(generateLogs({ outDir: dir, days: 0 }), RangeError)
  await t.rejects(generateLogs({ outDir: dir, events: -1 }), RangeError)
  await t.rejects(generateLogs({ outDir: dir, seed: 0.5 }), RangeError)
  await t.rejects(generateLogs({ outDir: dir, sizeBytes: Number.NaN }), RangeError)
  for (const sizeBytes of [0, 100]) {
    await t.rejects(generateLogs({ outDir: join(dir, 'tiny'), sizeBytes }), { code: 'ERR_INVALID_SIZE', message: /less than one log block/ }, `${sizeBytes} bytes holds no block`)
  }
  t.notOk(existsSync(join(dir, 'tiny')), 'a size too small for one block writes nothing')
})
