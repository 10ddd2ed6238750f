/**
 * A fault-injecting HTTP proxy in front of the embedded S3 server: what a
 * flaky network and a throttling S3 do to the pipeline, on demand. Each
 * request is matched against the proxy's `fault` rule, which may answer it
 * with an S3 error (503 SlowDown, 500 InternalError) without forwarding it,
 * or forward it and then damage the response body: reset the connection
 * after some bytes, end it early (a truncated body), or stall it. Every
 * request is recorded with what was done to it.
 */
import { once } from 'node:events'
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Test } from 'tap'

export type Fault =
  | { kind: 'status'; status: 500 | 503 }
  /** Forward, then reset the connection once this many body bytes have gone through. */
  | { kind: 'reset'; afterBytes: number }
  /** Forward, then close the connection cleanly after this many body bytes, though Content-Length promised more. */
  | { kind: 'truncate'; afterBytes: number }
  /** Forward, then stop sending for `ms` after this many body bytes. */
  | { kind: 'stall'; afterBytes: number; ms: number }

export interface ProxiedRequest {
  method: string
  /** Path and query, as the client sent it. */
  url: string
  /** Whether it is a GET of an object (not a listing): the body faults only touch those. */
  objectGet: boolean
  /** Bytes in the upstream response body, when it was forwarded. */
  bodyBytes?: number
  fault?: Fault
  /** Whether the fault hit: a body fault past the body's end does nothing. */
  damaged?: boolean
  /** The request's Range header: a resumed read. */
  range?: string
  /** The reader's one-byte GET under an ETag no object has, asking whether the server honours If-Match. */
  ifMatchProbe: boolean
  status?: number
}

export interface FaultProxy {
  url: string
  requests: ProxiedRequest[]
  /** Decides each request's fault (none when it returns undefined). */
  fault: (req: ProxiedRequest) => Fault | undefined
  close(): Promise<void>
}

/** A small deterministic PRNG (mulberry32): the same seed, the same faults. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const S3_ERRORS = {
  500: { code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
  503: { code: 'SlowDown', message: 'Please reduce your request rate.' },
} as const

export async function startFaultProxy(t: Test, upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream)
  const sockets = new Set<Socket>()
  const proxy: FaultProxy = { url: '', requests: [], fault: () => undefined, close: async () => {} }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/'
    const [pathname = '', query = ''] = url.split('?')
    // Path-style: /bucket/key…; a listing is /bucket?list-type=2, a part upload has ?uploadId.
    const objectGet = req.method === 'GET' && pathname.split('/').filter(Boolean).length > 1 && !/(^|&)(list-type|uploads|uploadId)=/.test(query)
    const record: ProxiedRequest = { method: req.method ?? 'GET', url, objectGet, range: req.headers.range, ifMatchProbe: req.headers['if-match'] === '"00000000000000000000000000000000"' }
    proxy.requests.push(record)
    const fault = proxy.fault(record)
    record.fault = fault
    if (fault?.kind === 'status') {
      const e = S3_ERRORS[fault.status]
      record.status = fault.status
      record.damaged = true
      req.resume()
      res.writeHead(fault.status, { 'content-type': 'application/xml' })
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${e.code}</Code><Message>${e.message}</Message></Error>`)
      return
    }
    const headers = { ...req.headers }
    // The proxy has the whole request (Node answered any 100-continue): the upstream need not wait.
    delete headers.expect
    const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: url, headers }, (upRes) => {
      record.status = upRes.statusCode
      record.bodyBytes = Number(upRes.headers['content-length'] ?? 0)
      res.writeHead(upRes.statusCode ?? 502, upRes.headers)
      let sent = 0
      let limit = fault && fault.kind !== 'status' ? fault.afterBytes : Infinity
      let damaged = false
      let stalled: Promise<void> = Promise.resolve()
      upRes.on('data', (chunk: Buffer) => {
        if (damaged) return
        if (sent + chunk.length <= limit) {
          sent += chunk.length
          if (!res.write(chunk)) {
            upRes.pause()
            res.once('drain', () => upRes.resume())
          }
          return
        }
        record.damaged = true
        const head = chunk.subarray(0, limit - sent)
        res.write(head)
        sent += head.length
        if (fault!.kind === 'stall') {
          const rest = chunk.subarray(head.length)
          limit = Infinity
          upRes.pause()
          stalled = new Promise((resolve) =>
            setTimeout(() => {
              if (!res.destroyed) res.write(rest)
              upRes.resume()
              resolve()
            }, fault.ms).unref(),
          )
          return
        }
        damaged = true
        upRes.destroy()
        if (fault!.kind === 'reset') res.socket?.resetAndDestroy()
        // A clean end of the connection, short of Content-Length.
        else res.socket?.end()
      })
      upRes.on('end', () => void stalled.then(() => !damaged && res.end()))
      upRes.on('error', () => res.destroy())
    })
    up.on('error', () => res.destroy())
    // A client that goes away (reset, timeout, retry) must not leave the upstream body paused on the server.
    res.on('close', () => up.destroy())
    req.pipe(up)
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  proxy.close = async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(() => proxy.close())
  return proxy
}
