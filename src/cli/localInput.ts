import { statSync } from 'node:fs'
import { PipelineError } from '../errors.js'

/**
 * Checks a local file argument before it is opened, so the user reads what
 * to do instead of a bare `ENOENT`/`EISDIR`.
 */
export function checkLocalFile(file: string, hint: string): void {
  let isDirectory: boolean
  try {
    isDirectory = statSync(file).isDirectory()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new PipelineError('ERR_NO_SUCH_PATH', `no such file: ${file}`)
    throw err
  }
  if (isDirectory) throw new PipelineError('ERR_IS_DIRECTORY', `${file} is a directory: ${hint}`)
}

/**
 * Names the file in an error from gunzipping it: zlib's messages
 * (`unexpected end of file`, `incorrect header check`) say neither which
 * file nor what is wrong with it. Node's fs errors already name the path.
 */
export function localInputError(file: string, err: unknown): unknown {
  const e = err as NodeJS.ErrnoException
  if (e?.code === 'Z_BUF_ERROR') {
    return new PipelineError('ERR_CORRUPT_INPUT', `${file}: ${e.message} (the gzip stream is truncated or corrupt)`, { cause: err })
  }
  if (e?.code === 'Z_DATA_ERROR') {
    return new PipelineError('ERR_CORRUPT_INPUT', `${file}: ${e.message} (not gzip data, or corrupt gzip data)`, { cause: err })
  }
  return err
}
