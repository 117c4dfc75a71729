// Shared test helpers: build(t, options) gives a listening app on 127.0.0.1 that is closed in
// teardown, and connect() a real `ws` client that collects every frame it receives.
import Fastify, { type FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import type { Test } from 'tap'
import notifications from '../lib/index'
import type { NotificationsOptions } from '../types/index'

export type Frame = Record<string, any>

export interface Built {
  app: FastifyInstance
  /** ws://127.0.0.1:PORT */
  url: string
}

export async function build (t: Test, options: Partial<NotificationsOptions> = {}): Promise<Built> {
  const app = Fastify()
  await app.register(notifications, { channels: ['alpha', 'beta', 'gamma'], ...options })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, url: `ws://127.0.0.1:${address.port}` }
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
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
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

  close (): void {
    this.ws.close()
  }
}

/** Opens a client, waits for its `connected` frame, and closes it in teardown. */
export async function connect (t: Test, url: string, query = ''): Promise<Client> {
  const client = new Client(`${url}/ws${query}`)
  t.teardown(() => client.ws.terminate())
  await client.opened
  await client.waitFor(1)
  return client
}

/** Resolves after the event loop turned `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
