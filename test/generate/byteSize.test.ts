import t from 'tap'
import { InvalidSizeError, parseByteSize } from '../../src/generate/byteSize.js'

t.test('decimal units are powers of 1000, case-insensitive', async (t) => {
  t.equal(parseByteSize('300MB'), 300_000_000)
  t.equal(parseByteSize('1GB'), 1_000_000_000)
  t.equal(parseByteSize('1gb'), 1_000_000_000)
  t.equal(parseByteSize('512k'), 512_000)
  t.equal(parseByteSize('512KB'), 512_000)
  t.equal(parseByteSize('2t'), 2_000_000_000_000)
  t.equal(parseByteSize('0.5M'), 500_000)
  t.equal(parseByteSize('10B'), 10)
})

t.test('iB units are powers of 1024', async (t) => {
  t.equal(parseByteSize('1.5GiB'), 1_610_612_736)
  t.equal(parseByteSize('1kib'), 1024)
  t.equal(parseByteSize('64KiB'), 65_536)
  t.equal(parseByteSize('2MiB'), 2_097_152)
  t.equal(parseByteSize('1Ti'), 1_099_511_627_776)
})

t.test('plain numbers are bytes; whitespace around is allowed', async (t) => {
  t.equal(parseByteSize('4096'), 4096)
  t.equal(parseByteSize(' 300 MB '), 300_000_000)
  t.equal(parseByteSize('.5k'), 500)
  t.equal(parseByteSize('1.4'), 1, 'rounded to whole bytes')
})

t.test('anything else throws ERR_INVALID_SIZE', async (t) => {
  for (const bad of ['', 'MB', 'abc', '-1MB', '1.2.3GB', '10 XB', '1e9', '1,000', '5 G B', '0x10', 'Infinity', '1GBs']) {
    t.throws(() => parseByteSize(bad), { code: 'ERR_INVALID_SIZE', name: 'InvalidSizeError' }, JSON.stringify(bad))
  }
  t.throws(() => parseByteSize('99999999999TB'), { code: 'ERR_INVALID_SIZE' }, 'past Number.MAX_SAFE_INTEGER')
  for (const none of ['0', '0MB', '0.4', '0.0001k']) {
    t.throws(() => parseByteSize(none), { code: 'ERR_INVALID_SIZE', message: /must be at least 1 byte$/ }, `${JSON.stringify(none)} is under one byte`)
  }
  t.throws(() => parseByteSize('-1MB'), { code: 'ERR_INVALID_SIZE', message: 'Invalid size "-1MB": a size cannot be negative' })
  try {
    parseByteSize('lots')
    t.fail('should throw')
  } catch (err) {
    t.ok(err instanceof InvalidSizeError)
    t.ok(err instanceof Error)
    t.match((err as Error).message, /Invalid size "lots".*e\.g\. 300MB or 1\.5GiB/)
  }
})
