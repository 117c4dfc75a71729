// Shared test helpers: build(t, options) gives a listening app on 127.0.0.1 that is closed in
// teardown, and connect() a real `ws` client that collects every frame it receives.
import Fastify, { type FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import type { Socket } from 'node:net'
import type { Test } from 'tap'
import notifications from '../lib/index'
import type { NotificationsOptions } from '../types/index'
import { loadNativeWriter, tcpDescriptorOf } from '../lib/core/native-writes'

export type Frame = Record<string, any>

export interface Built {
  app: FastifyInstance
  /** ws://127.0.0.1:PORT */
  url: string
  /** http://127.0.0.1:PORT */
  http: string
}

export async function build (t: Test, options: Partial<NotificationsOptions> = {}): Promise<Built> {
  const app = Fastify()
  await app.register(notifications, { channels: ['alpha', 'beta', 'gamma'], ...options })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, url: `ws://127.0.0.1:${address.port}`, http: `http://127.0.0.1:${address.port}` }
}

/** A real client that records frames and lets a test wait for the next ones. */
export class Client {
  readonly ws: WebSocket
  readonly frames: Frame[] = []
  #waiters: Array<{ count: number, resolve: () => void }> = []
  readonly closed: Promise<{ code: number, reason: string }>
  readonly opened: Promise<void>

  constructor (url: string, options?: WebSocket.ClientOptions) {
    this.ws = new WebSocket(url, options)
    this.ws.on('error', () => {})
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('unexpected-response', (req, res) => {
        // With a listener ws leaves the refused request open; end it so it cannot hold server.close().
        req.destroy()
        reject(new Error(`HTTP ${res.statusCode}`))
      })
      this.ws.once('error', reject)
    })
    this.opened.catch(() => {})
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    })
    this.ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()))
      this.#waiters = this.#waiters.filter((waiter) => {
        if (this.frames.length < waiter.count) return true
        waiter.resolve()
        return false
      })
    })
  }

  /** Resolves once `count` frames in total have arrived (fails after 5 s). */
  async waitFor (count: number, timeout = 5000): Promise<Frame[]> {
    if (this.frames.length < count) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${count} frames; got ${JSON.stringify(this.frames)}`)), timeout)
        this.#waiters.push({ count, resolve: () => { clearTimeout(timer); resolve() } })
      })
    }
    return this.frames
  }

  /** Sends a frame and resolves with the next frame received. */
  async request (frame: unknown): Promise<Frame> {
    const next = this.frames.length + 1
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
    await this.waitFor(next)
    return this.frames[next - 1]
  }

  /**
   * Resolves once the server answered a ping sent now: frames are answered and written in order,
   * so whatever the server wrote to this socket before it is here. The way to prove that nothing
   * (more) arrived, instead of sleeping. The pong itself is not kept in `frames`.
   */
  async settle (timeout = 5000): Promise<Frame[]> {
    const id = `settle-${++settles}`
    this.ws.send(JSON.stringify({ action: 'ping', id }))
    const isPong = (frame: Frame): boolean => frame.type === 'pong' && frame.id === id
    const deadline = Date.now() + timeout
    while (!this.frames.some(isPong)) {
      if (Date.now() > deadline) throw new Error(`no pong within ${timeout} ms; got ${JSON.stringify(this.frames)}`)
      await this.waitFor(this.frames.length + 1, Math.max(1, deadline - Date.now()))
    }
    this.frames.splice(this.frames.findIndex(isPong), 1)
    return this.frames
  }

  close (): void {
    this.ws.close()
  }
}

let settles = 0

/** Opens a client, waits for its `connected` frame, and closes it in teardown. */
export async function connect (t: Test, url: string, query = '', options?: WebSocket.ClientOptions): Promise<Client> {
  const client = new Client(`${url}/ws${query}`, options)
  t.teardown(() => client.ws.terminate())
  await client.opened
  await client.waitFor(1)
  return client
}

/** Resolves after the event loop turned `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** GET a stats route over real HTTP (default `/ws/stats`) and parse its JSON body. */
export async function fetchStats (http: string, path = '/ws/stats'): Promise<Frame> {
  const response = await fetch(`${http}${path}`)
  if (response.status !== 200) throw new Error(`stats answered HTTP ${response.status}`)
  return await response.json() as Frame
}

/** Polls `check` every 10 ms until it returns true; rejects after `timeout` ms naming `what`. */
export async function waitUntil (check: () => boolean | Promise<boolean>, what: string, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await sleep(10)
  }
}

/** Rejects with `what` if `promise` has not settled within `timeout` ms. */
export async function within<T> (promise: Promise<T>, what: string, timeout = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeout)
  })
  try {
    return await Promise.race([promise, expired])
  } finally {
    clearTimeout(timer)
  }
}

/** The TCP socket under a `ws` client (ws internals): pausing it makes a peer that stops reading. */
export function tcpSocketOf (client: Client): Socket {
  const socket = (client.ws as unknown as { _socket?: Socket })._socket
  if (socket === undefined) throw new Error('ws client has no _socket')
  return socket
}

let asks = 0

/**
 * Sends a frame with an `id` of its own and resolves with the reply carrying that id: for sockets
 * that also receive unsolicited frames (join/leave), where the next frame need not be the reply.
 */
export async function ask (client: Client, frame: Record<string, unknown>, timeout = 5000): Promise<Frame> {
  const id = `ask-${++asks}`
  client.ws.send(JSON.stringify({ ...frame, id }))
  const deadline = Date.now() + timeout
  for (;;) {
    const reply = client.frames.find((candidate) => candidate.id === id)
    if (reply !== undefined) return reply
    if (Date.now() > deadline) throw new Error(`no reply to ${JSON.stringify(frame)} within ${timeout} ms; got ${JSON.stringify(client.frames)}`)
    await client.waitFor(client.frames.length + 1, Math.max(1, deadline - Date.now()))
  }
}

/**
 * Records every write to the server side of each socket open now, in order, whichever way it is
 * made: through the socket's stream, or by the native fan-out (which writes descriptors, not
 * streams: lib/core/native-writes.ts). A frame written natively is recorded as the very buffer
 * given, so tests can tell shared buffers apart. The native writer is restored in teardown.
 */
export function recordWrites (t: Test, app: { websocketServer: { clients: Set<WebSocket> } }): Map<WebSocket, Buffer[]> {
  const writes = new Map<WebSocket, Buffer[]>()
  const byDescriptor = new Map<number, Buffer[]>()
  for (const ws of app.websocketServer.clients) {
    const socket = (ws as unknown as { _socket: Socket })._socket
    const list: Buffer[] = []
    writes.set(ws, list)
    byDescriptor.set(tcpDescriptorOf(socket), list)
    const write = socket.write.bind(socket) as (chunk: Buffer, ...rest: unknown[]) => boolean
    socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
      list.push(chunk)
      return write(chunk, ...rest)
    }) as typeof socket.write
  }
  const { writer } = loadNativeWriter()
  if (writer !== null) {
    const original = writer.writeEach
    writer.writeEach = (fds, count, frame, written) => {
      original.call(writer, fds, count, frame, written)
      for (let i = 0; i < count; i++) {
        if (written[i] > 0) byDescriptor.get(fds[i])?.push(written[i] === frame.length ? frame as Buffer : Buffer.from(frame.subarray(0, written[i])))
      }
    }
    t.teardown(() => { writer.writeEach = original })
  }
  return writes
}
