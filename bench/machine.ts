import os from 'node:os'

export interface Machine {
  cpu: string
  cores: number
  node: string
  os: string
  memory_gib: number
}

export function describeMachine(): Machine {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    memory_gib: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
  }
}
