// A tiny HTTP proxy on 127.0.0.1 that forwards plain requests (streamed, so SSE passes) and refuses
// every WebSocket upgrade, as some corporate proxies do: `refuse: 'status'` answers 403, `'cut'`
// completes the handshake and then closes the socket before any frame (a proxy that cannot carry
// WebSocket frames). `stop()` cuts every connection through it, as a proxy restart would.
import http from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createHash } from 'node:crypto'

export interface RefusingProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string
  readonly refusedUpgrades: number
  /** Cuts every connection through the proxy (open streams included). */
  cutAll (): void
  close (): Promise<void>
}

export async function startRefusingProxy (target: string, refuse: 'status' | 'cut' = 'status'): Promise<RefusingProxy> {
  const sockets = new Set<Socket | Duplex>()
  let refusedUpgrades = 0
  const server = http.createServer((request, response) => {
    const upstream = http.request(new URL(request.url ?? '/', target), { method: request.method, headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
    })
    upstream.on('error', () => { response.destroy() })
    response.on('close', () => upstream.destroy())
    request.pipe(upstream)
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.on('upgrade', (request, socket) => {
    refusedUpgrades++
    socket.on('error', () => {})
    if (refuse === 'status') {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const key = String(request.headers['sec-websocket-key'])
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return {
    url: `http://127.0.0.1:${address.port}`,
    get refusedUpgrades () { return refusedUpgrades },
    cutAll () {
      for (const socket of sockets) socket.destroy()
    },
    async close () {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
