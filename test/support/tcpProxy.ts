/**
 * A TCP proxy in front of a server (MariaDB) that can reset connections: the
 * network fault a retry should get past. `resetAfter(n, bytes)` resets the
 * n-th connection (1-based) once that many bytes came back from the server.
 */
import { once } from 'node:events'
import { createConnection, createServer, type Socket } from 'node:net'
import type { Test } from 'tap'

export interface TcpProxy {
  port: number
  /** Connections accepted so far. */
  connections: number
  /** Connections this proxy reset. */
  resets: number
  resetAfter(connection: number, bytes: number): void
}

export async function startTcpProxy(t: Test, target: { host: string; port: number }): Promise<TcpProxy> {
  const rules = new Map<number, number>()
  const sockets = new Set<Socket>()
  const proxy: TcpProxy = { port: 0, connections: 0, resets: 0, resetAfter: (n, bytes) => void rules.set(n, bytes) }
  const server = createServer((client) => {
    const n = ++proxy.connections
    const upstream = createConnection(target)
    sockets.add(client).add(upstream)
    let down = 0
    const limit = rules.get(n)
    upstream.on('data', (chunk: Buffer) => {
      down += chunk.length
      if (limit !== undefined && down >= limit) {
        proxy.resets++
        client.resetAndDestroy()
        upstream.destroy()
        return
      }
      if (!client.write(chunk)) upstream.pause()
    })
    client.on('drain', () => upstream.resume())
    client.on('data', (chunk: Buffer) => {
      if (!upstream.write(chunk)) client.pause()
    })
    upstream.on('drain', () => client.resume())
    const end = (): void => {
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end).on('error', end)
    upstream.on('close', end).on('error', end)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  proxy.port = (server.address() as { port: number }).port
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return proxy
}
