import t from 'tap'
import { gunzipSync } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import { StageWriter } from '../../sinks/stageWriter.js'
import { csvHeader, encodeCsvBatch } from '../../sinks/csvEncoding.js'
import { independentS3 } from '../support/independentS3.js'
import { testRuntime } from '../support/runtime.js'

t.test('writes gzipped CSV to the stage, rolls past maxFileBytes, names deterministically', async (t) => {
  const rt = await testRuntime(t)
  const header = csvHeader(['id', 'payload'])
  const writer = new StageWriter({ store: rt.store, keyPrefix: 'stage/test/obj/etag1/rows/', header, maxFileBytes: 64 * 1024 })
  // Random payloads do not compress, so ~1 MB of CSV must roll into many files.
  const expected: string[] = []
  for (let batch = 0; batch < 40; batch++) {
    const records = Array.from({ length: 50 }, (_, i) => ({ id: batch * 50 + i, payload: randomBytes(300).toString('base64') }))
    const csv = encodeCsvBatch(records, ['id', 'payload'])
    expected.push(csv)
    await writer.write(csv, records.length)
  }
  const files = await writer.close()
  t.ok(files.length >= 4, `rolled into ${files.length} files`)
  for (const f of files.slice(0, -1)) t.ok(f.bytes >= 64 * 1024 && f.bytes < 4 * 64 * 1024, `${f.key}: ${f.bytes} bytes, rolled near the limit`)
  t.same(
    files.map((f) => f.key),
    files.map((_, i) => `stage/test/obj/etag1/rows/part-${String(i).padStart(5, '0')}.csv.gz`),
  )
  t.equal(files.reduce((n, f) => n + f.rows, 0), 2000, 'row counts add up')
  // Read back with a client this project did not write.
  const other = independentS3(rt.server.endpoint, rt.store.bucket)
  let body = ''
  for (const f of files) {
    const text = gunzipSync(await other.getObject(f.key)).toString('utf8')
    t.ok(text.startsWith(header), `${f.key} starts with the header`)
    t.equal(text.split('\n').length - 2, f.rows, `${f.key} holds ${f.rows} rows`)
    body += text.slice(header.length)
  }
  t.equal(body, expected.join(''), 'concatenated bodies are exactly what was written')
  t.same(await other.listKeys('stage/test/obj/etag1/'), files.map((f) => f.key), 'the independent client lists exactly the staged files')
})

t.test('nothing written: no file', async (t) => {
  const rt = await testRuntime(t)
  const writer = new StageWriter({ store: rt.store, keyPrefix: 'stage/empty/', header: 'a\n', maxFileBytes: 1e6 })
  t.same(await writer.close(), [])
})

t.test('NULL and empty string stay apart in the CSV dialect', async (t) => {
  const csv = encodeCsvBatch([{ a: null, b: '', c: 'x,"y"\nz', d: 'back\\slash' }], ['a', 'b', 'c', 'd'])
  t.equal(csv, ',"","x,""y""\nz",back\\slash\n')
})

t.test('abort drops the file in progress', async (t) => {
  const rt = await testRuntime(t)
  const writer = new StageWriter({ store: rt.store, keyPrefix: 'stage/aborted/', header: 'a\n', maxFileBytes: 1e9 })
  await writer.write('x\n'.repeat(40_000), 40_000)
  await writer.abort(new Error('test abort'))
  t.same(await independentS3(rt.server.endpoint, rt.store.bucket).listKeys('stage/aborted/'), [], 'no staged object left behind')
})
