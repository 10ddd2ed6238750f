/**
 * Benchmark inputs: one day of the generator's logs at a given size, generated
 * once and cached under `$CAREPLUS_HOME/bench/input/<bytes>/` with a manifest
 * of what the generator wrote. Delete the folder (or pass `--fresh`) after a
 * change to the generator.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { generateLogs } from '../src/generate/logGenerator.js'
import type { BenchInput } from './harness.js'

const MANIFEST = 'input.json'
const SEED = 42

interface Manifest {
  /** File name, in the manifest's folder. */
  file: string
  bytes: number
  events: number
  seed: number
  sizeBytes: number
}

function inputDir(home: string, sizeBytes: number): string {
  return path.join(home, 'bench', 'input', String(sizeBytes))
}

/** The manifest in `dir`, when there is a readable one. */
function readManifest(dir: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest
  } catch {
    return undefined
  }
}

/** The input described by the manifest next to `file`, or just its size when there is none. */
export function describeInput(file: string): BenchInput {
  const m = readManifest(path.dirname(file))
  if (m?.file === path.basename(file)) return { file, bytes: m.bytes, events: m.events }
  return { file, bytes: statSync(file).size, events: 0 }
}

/** The input cached in `dir`, when its file is there whole. */
function cached(dir: string): BenchInput | undefined {
  const m = readManifest(dir)
  if (!m) return undefined
  const file = path.join(dir, m.file)
  return existsSync(file) && statSync(file).size === m.bytes ? { file, bytes: m.bytes, events: m.events } : undefined
}

/** The cached input of about `sizeBytes`, generated first when missing (or when `fresh`). */
export async function benchInput(home: string, sizeBytes: number, opts: { fresh?: boolean; onGenerate?: (dir: string) => void } = {}): Promise<BenchInput> {
  const dir = inputDir(home, sizeBytes)
  const hit = opts.fresh ? undefined : cached(dir)
  if (hit) return hit
  opts.onGenerate?.(dir)
  // Generated aside and renamed into place, so an interrupted run never leaves a partial input behind.
  const staging = `${dir}.tmp-${process.pid}`
  await rm(staging, { recursive: true, force: true })
  const r = await generateLogs({ outDir: staging, days: 1, seed: SEED, sizeBytes })
  const manifest: Manifest = { file: path.basename(r.files[0]!), bytes: r.bytes, events: r.events, seed: SEED, sizeBytes }
  await writeFile(path.join(staging, MANIFEST), JSON.stringify(manifest, null, 2) + '\n')
  await rm(dir, { recursive: true, force: true })
  await rename(staging, dir)
  return { file: path.join(dir, manifest.file), bytes: r.bytes, events: r.events }
}
