import { createReadStream } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { PipelineError } from '../errors.js'
import { uploadStream, type ObjectStore } from '../s3/objectStore.js'
import { forEachConcurrent } from './concurrency.js'

const LOG_FILE = /\.log(\.gz)?$/

export interface UploadSummary {
  files: number
  bytes: number
  seconds: number
  keys: string[]
}

/** Expands files and folders (recursively) into `.log` / `.log.gz` files with their object names. */
export async function collectLogFiles(paths: readonly string[]): Promise<Array<{ file: string; name: string; size: number }>> {
  const out: Array<{ file: string; name: string; size: number }> = []
  for (const p of paths) {
    let st
    try {
      st = await stat(p)
    } catch {
      throw new PipelineError('ERR_NO_SUCH_PATH', `no such file or folder: ${p}`)
    }
    if (st.isFile()) {
      out.push({ file: p, name: path.basename(p), size: st.size })
      continue
    }
    const entries = await readdir(p, { recursive: true, withFileTypes: true })
    for (const e of entries) {
      if (!e.isFile() || !LOG_FILE.test(e.name)) continue
      const file = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)
      out.push({ file, name: path.relative(p, file).split(path.sep).join('/'), size: (await stat(file)).size })
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name))
}

/** The seed's upload step: streams local log files to s3://bucket/<logs prefix><name>. */
export async function uploadLogs(opts: {
  store: ObjectStore
  prefix: string
  paths: readonly string[]
  concurrency: number
  signal?: AbortSignal
  onProgress?: (bytes: number) => void
}): Promise<UploadSummary> {
  const started = performance.now()
  const files = await collectLogFiles(opts.paths)
  if (files.length === 0) throw new PipelineError('ERR_NO_LOG_FILES', `no .log or .log.gz files in ${opts.paths.join(', ')}`)
  const keys: string[] = []
  let bytes = 0
  await forEachConcurrent(
    files,
    opts.concurrency,
    async (f, signal) => {
      const key = opts.prefix + f.name
      await uploadStream(opts.store, key, createReadStream(f.file), {
        contentType: 'text/plain; charset=utf-8',
        signal,
      })
      keys.push(key)
      bytes += f.size
      opts.onProgress?.(f.size)
    },
    opts.signal,
  )
  return { files: files.length, bytes, seconds: (performance.now() - started) / 1000, keys: keys.sort() }
}
