// Helpers of the Redis tests: whether Redis can be reached (in CI it must be: the test file fails
// at load otherwise; elsewhere the tests skip, loudly), a key prefix per test that is deleted in
// teardown, a cluster of instances sharing Redis, and a small resuming client.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { createServer, connect as tcpConnect } from 'node:net'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { build, connect, waitUntil, Client as ClientClass, type Built, type Client, type Frame } from './helper'
import { redisAdapter, type RedisAdapterOptions } from '../lib/cluster/redis-adapter'
import type { NotificationsOptions } from '../types/index'

export const REDIS_URL = 'redis://127.0.0.1:6379'

/** A TCP probe in a child process, so the answer is known before any test is declared. */
function probe (): boolean {
  const script = "require('net').connect(6379,'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))"
  return spawnSync(process.execPath, ['-e', script], { timeout: 5000 }).status === 0
}

/** `skip` option of every Redis test: false when Redis is up. Throws in CI when it is not. */
export const REDIS_SKIP: string | false = (() => {
  if (probe()) return false
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') {
    throw new Error('Redis is not reachable at 127.0.0.1:6379 and CI is set: the Redis tests must run in CI')
  }
  const reason = 'Redis is not reachable at 127.0.0.1:6379: SKIPPING the Redis tests (they fail in CI)'
  console.error(`\n*** ${reason} ***\n`)
  return reason
})()

/** A key prefix of this test alone; its keys are deleted in teardown. */
export function testPrefix (t: Test, url = REDIS_URL): string {
  const prefix = `test:${randomUUID()}:`
  t.teardown(async () => { await deleteKeys(url, prefix) })
  return prefix
}

export async function deleteKeys (url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null })
  redis.on('error', () => {})
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
  } catch {
    // Redis gone (the fault test's server): nothing left to clean.
  } finally {
    redis.disconnect()
  }
}

/** `n` instances on 127.0.0.1 ports sharing Redis under one prefix; closed in teardown. */
export async function buildCluster (t: Test, n: number, options: Partial<NotificationsOptions> = {},
  adapterOptions: { url?: string, prefix?: string } & Omit<RedisAdapterOptions, 'redis' | 'keyPrefix'> = {}): Promise<Built[]> {
  const { url = REDIS_URL, prefix = testPrefix(t, url), ...rest } = adapterOptions
  const instances: Built[] = []
  for (let i = 0; i < n; i++) {
    instances.push(await build(t, {
      adapter: redisAdapter({ redis: url, keyPrefix: prefix, ...rest }),
      ...options
    }))
  }
  return instances
}

export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

async function reachable (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/** Starts redis-server on `port` without persistence; resolves once it accepts connections. */
export async function startRedis (port: number): Promise<ChildProcess> {
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  server.on('error', () => {})
  await waitUntil(async () => await reachable(port), `redis-server listening on ${port}`)
  return server
}

/** Kills a redis-server started by startRedis (SIGKILL) and waits for it to exit. */
export async function kill (server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return
  const exited = new Promise((resolve) => server.once('exit', resolve))
  server.kill('SIGKILL')
  await exited
}

/** Opens a client and subscribes it; resolves with the `subscribed` reply. */
export async function subscribed (t: Test, url: string, channel: string, query = ''): Promise<{ client: Client, reply: Frame }> {
  const client = await connect(t, url, query)
  const reply = await client.request({ action: 'subscribe', channel })
  if (reply.type !== 'subscribed') throw new Error(`subscribe answered ${JSON.stringify(reply)}`)
  return { client, reply }
}

/** The notifications (frames with a `channel` and a `data`) of one channel a client received. */
export function notificationsOf (client: Client, channel: string): Frame[] {
  return client.frames.filter((frame) => frame.channel === channel && 'data' in frame)
}

let markers = 0

/** An instance (`app`) or a worker's createPublisher(). */
export interface Notifier {
  notify: (channel: string, type: string, data: { marker: string }) => Promise<unknown>
}

/**
 * Notifies a marker on `channel` from `app` and returns how to recognize it. Across instances it
 * is what `settle()` is on one: Redis runs one connection's commands in order and delivers pub/sub
 * in the order it ran them, and an instance delivers its subscription in order, so the marker
 * reaches each subscriber after everything `app` published before it (and everything any
 * instance published whose notify() had resolved). Publish it from the instance (or worker) that
 * published what must not arrive. On a history channel it takes an offset of its own.
 */
export async function publishMarker (app: Notifier, channel: string): Promise<(frame: Frame) => boolean> {
  const marker = `marker-${++markers}`
  await app.notify(channel, 'marker', { marker })
  return (frame) => frame.channel === channel && frame.type === 'marker' && frame.data?.marker === marker
}

/**
 * Proves nothing more published on `channel` before now is on its way to `clients`: resolves once
 * each got a marker published from each of `from` (see publishMarker), and removes the markers
 * from their frames, so what was received before them is what a test checks.
 */
export async function quiet (from: readonly Notifier[], channel: string, clients: readonly Client[]): Promise<void> {
  const checks = []
  for (const app of from) checks.push(await publishMarker(app, channel))
  for (const client of clients) {
    for (const isMarker of checks) {
      await waitUntil(() => client.frames.some(isMarker), `the marker on ${channel}`)
      client.frames.splice(client.frames.findIndex(isMarker), 1)
    }
  }
}

/**
 * A client that resumes by itself, as the browser client does: on any close it reconnects (to the
 * next URL of the list), subscribes with `since` its last offset and epoch, and records what it
 * was told. Enough for the tests; the real client is lib/client.
 */
export class ResumingClient {
  readonly urls: readonly string[]
  readonly channel: string
  /** `data` of every notification, in arrival order. */
  readonly received: Frame[] = []
  /** The epoch each of `received` belongs to. */
  readonly epochs: string[] = []
  /** Every `subscribed` reply. */
  readonly replies: Frame[] = []
  /** Close codes seen. */
  readonly closes: number[] = []
  epoch: string | undefined
  offset = 0
  #turn = 0
  #stopped = false
  #current: Client | undefined

  constructor (t: Test, urls: readonly string[], channel: string, first = 0) {
    this.urls = urls
    this.channel = channel
    this.#turn = first
    t.teardown(() => this.stop())
  }

  /** Whether some resume was answered `recovered: false`. */
  get toldOfGap (): boolean {
    return this.replies.some((reply) => reply.recovered === false)
  }

  async start (): Promise<void> {
    const url = this.urls[this.#turn % this.urls.length]
    this.#turn++
    const client = new ClientClass(`${url}/ws`)
    this.#current = client
    client.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame
      if (frame.type === 'subscribed') {
        this.replies.push(frame)
        this.epoch = frame.epoch
        if (frame.recovered !== true) this.offset = frame.offset
      } else if (frame.channel === this.channel && 'data' in frame) {
        this.received.push(frame)
        this.epochs.push(this.epoch as string)
        this.offset = frame.offset
      }
    })
    client.ws.on('close', (code) => {
      this.closes.push(code)
      if (!this.#stopped) setTimeout(() => { this.start().catch(() => {}) }, 20)
    })
    await client.opened
    const since = this.epoch === undefined ? undefined : { offset: this.offset, epoch: this.epoch }
    client.ws.send(JSON.stringify({ action: 'subscribe', channel: this.channel, since }))
  }

  /** Closes the current socket from this side (the client then reconnects to the next URL). */
  cut (): void {
    this.#current?.ws.terminate()
  }

  /**
   * Resolves once a marker (publishMarker) was received, and removes it from `received`: what
   * arrived before it is then all that was published before it.
   */
  async takeMarker (isMarker: (frame: Frame) => boolean): Promise<void> {
    await waitUntil(() => this.received.some(isMarker), `the marker on ${this.channel}`, 10_000)
    const index = this.received.findIndex(isMarker)
    this.received.splice(index, 1)
    this.epochs.splice(index, 1)
  }

  stop (): void {
    this.#stopped = true
    this.#current?.ws.terminate()
  }
}
