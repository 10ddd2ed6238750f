/**
 * A fault-injecting TCP proxy in front of MariaDB: what a silent network
 * partition does to a MySQL client. It forwards bytes both ways until it is
 * told to stall (at once, or once so many bytes have gone to the client);
 * from then on it forwards nothing either way and closes nothing, not even
 * in answer to the client's FIN, exactly as a partition looks from the
 * client's side. Only a client that destroys its socket gets rid of it.
 */
import { once } from 'node:events'
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'
import { execFileSync } from 'node:child_process'
import type { Test } from 'tap'

export interface TcpFaultProxy {
  port: number
  /** Connections accepted so far. */
  connections: number
  /** Bytes forwarded to clients so far. */
  bytesToClients: number
  /** Stall every connection once this many bytes (in all) have gone to clients; 0 stalls at once. */
  stallAfterBytes(n: number): void
  /** Resolves when the stall has begun. */
  stalled: Promise<number>
  close(): Promise<void>
}

export async function startTcpFaultProxy(t: Test, upstreamPort: number, upstreamHost = '127.0.0.1'): Promise<TcpFaultProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket }>()
  let limit = Infinity
  let stalledAt: number | null = null
  let onStall: (at: number) => void = () => {}
  const proxy: TcpFaultProxy = {
    port: 0,
    connections: 0,
    bytesToClients: 0,
    stallAfterBytes(n) {
      limit = proxy.bytesToClients + n
      if (n === 0) stall()
    },
    stalled: new Promise<number>((resolve) => (onStall = resolve)),
    close: async () => {
      for (const p of pairs) {
        p.client.destroy()
        p.upstream.destroy()
      }
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  const stall = (): void => {
    if (stalledAt !== null) return
    stalledAt = performance.now()
    // Nothing is read from either side any more: the server's writes and the client's back up in the kernels.
    for (const p of pairs) {
      p.client.pause()
      p.upstream.pause()
    }
    onStall(stalledAt)
  }

  // allowHalfOpen: a client's FIN is not answered (a partition forwards nothing, not even the close).
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    proxy.connections++
    const upstream = connect({ host: upstreamHost, port: upstreamPort, allowHalfOpen: true })
    const pair = { client, upstream }
    pairs.add(pair)
    if (stalledAt !== null) {
      client.pause()
      upstream.pause()
    }
    upstream.on('data', (chunk: Buffer) => {
      if (stalledAt !== null) return
      const room = limit - proxy.bytesToClients
      if (chunk.length >= room) {
        if (room > 0) client.write(chunk.subarray(0, room))
        proxy.bytesToClients += Math.max(room, 0)
        stall()
        return
      }
      proxy.bytesToClients += chunk.length
      if (!client.write(chunk)) {
        upstream.pause()
        client.once('drain', () => stalledAt === null && upstream.resume())
      }
    })
    client.on('data', (chunk: Buffer) => {
      if (stalledAt === null) upstream.write(chunk)
    })
    client.on('end', () => {
      if (stalledAt === null) upstream.end()
    })
    upstream.on('end', () => {
      if (stalledAt === null) client.end()
    })
    // The client is gone for good (its process exited, or it destroyed the socket): let MariaDB's side go too.
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => stalledAt === null && client.destroy())
    client.on('error', () => {})
    upstream.on('error', () => {})
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  proxy.port = (server.address() as AddressInfo).port
  t.teardown(() => proxy.close())
  return proxy
}

/**
 * Sockets the process `pid` holds to 127.0.0.1:`port`, in any state (a
 * half-closed one is FIN-WAIT-2), from the kernel's table (`ss`). A socket
 * the process has closed may linger in the kernel, but no process owns it.
 */
export function socketsHeldTo(pid: number, port: number): string[] {
  const out = execFileSync('ss', ['-tanpH', `( dport = :${port} )`], { encoding: 'utf8' })
  return out.split('\n').filter((l) => l.includes(`pid=${pid},`))
}
