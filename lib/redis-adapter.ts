// The Redis adapter: every instance publishes through Redis and delivers from its own Redis
// subscription, its own messages included, so each instance sees each channel's messages in the
// one order Redis gave them. History channels get their offsets from a Lua script that increments,
// appends to a Stream trimmed to the history size, and publishes in one atomic step
// (redis-scripts.ts); each instance mirrors that Stream in memory (redis-history.ts), fed in the
// same synchronous step that delivers, so resume works on any instance.
//
// Failure semantics: a notify() that certainly did not reach Redis (not connected, or refused
// before it was written) rejects with FST_WS_NOTIFY_BROKER_UNAVAILABLE (messages without history
// are then delivered to this instance's sockets only, and `delivered` says to how many). One that
// was written but not confirmed within publishTimeout (Redis stalled, or the connection dropped
// with it in flight) rejects with FST_WS_NOTIFY_BROKER_TIMEOUT: its outcome is unknown, so it is
// not delivered locally, and if Redis did publish it, it is delivered once, normally, when it
// comes back. No subscriber receives a message twice. Broker errors are counted.
//
// When Redis returns, ioredis resubscribes (autoResubscribe) and the adapter re-reads each
// history channel: missed messages still in the Stream are delivered late but in order; if some
// are gone, or the epoch changed (Redis lost its data), the channel's subscribers here are closed with 1012 so their client resumes and is told
// `recovered: false`: a hole is never silent.
//
// Namespace channels (`user:*` declared, `user:42` published) share their declaration's pub/sub
// channel; the payload's header carries the part the `*` stands for. With history, each concrete
// channel has its own Stream and offsets; an instance mirrors it once a socket there subscribes
// (redis-history.ts, #load).
import { createHash, randomBytes } from 'node:crypto'
import type { Redis, RedisOptions } from 'ioredis'
import { deliverLocally, type Adapter, type AdapterContext, type AdapterFactory, type Route } from './adapter'
import type { ChannelConfig } from './config-types'
import type { Hub } from './hub'
import { MirroredHistory } from './redis-history'
import type { ChannelLog } from './history'
import { PUBLISH_WITH_OFFSET, READ_HISTORY } from './redis-scripts'
import { ClusterStatsReporter, type ClusterStats } from './cluster-stats'
import { ChannelPatterns, isChannelPattern } from './auth'
import { RedisPresence } from './redis-presence'
import { RedisInbox } from './redis-inbox'
import { DEFAULTS } from './defaults'
import { CloseCode } from './protocol'
import {
  FST_WS_NOTIFY_BROKER_TIMEOUT,
  FST_WS_NOTIFY_BROKER_UNAVAILABLE,
  FST_WS_NOTIFY_INVALID_OPTION,
  FST_WS_NOTIFY_MISSING_IOREDIS,
  FST_WS_NOTIFY_UNKNOWN_CHANNEL
} from './errors'

/** The client given by the user (an ioredis `Redis`, such as `fastify.redis`) or a redis:// URL. */
export type RedisSource = Redis | string

export interface RedisAdapterOptions {
  /** An ioredis client (never closed by the adapter) or a URL (the adapter opens and closes it). */
  redis: RedisSource
  /** Prefix of every key and pub/sub channel. Default `'fastify-ws-notify:'`. */
  keyPrefix?: string
  /** Milliseconds a notify() waits for Redis before rejecting. Default 5 000. */
  publishTimeout?: number
  /** Milliseconds registration waits for Redis at start. Default 5 000, or half of Fastify's pluginTimeout when that is less. */
  connectTimeout?: number
  /** Milliseconds between two reports of this instance's stats to Redis. Default 5 000. */
  statsInterval?: number
  /** Milliseconds a cluster stats read waits for the other instances' answers. Default 500. */
  statsTimeout?: number
}

/** Options checked and filled. */
export interface RedisAdapterConfig {
  readonly redis: RedisSource
  readonly keyPrefix: string
  readonly publishTimeout: number
  /** null: not given, the default is decided at registration (see defaultConnectTimeout). */
  readonly connectTimeout: number | null
  readonly statsInterval: number
  readonly statsTimeout: number
}

/**
 * Registration must fail with the broker's error, not Fastify's plugin timeout: the default waits
 * 5 000 ms, or half of `pluginTimeout` when that is less (0 means Fastify waits forever).
 */
export function defaultConnectTimeout (pluginTimeout: number | undefined): number {
  if (pluginTimeout === undefined || pluginTimeout <= 0) return DEFAULTS.redis.connectTimeout
  return Math.max(1, Math.min(DEFAULTS.redis.connectTimeout, Math.floor(pluginTimeout / 2)))
}

/** WebSocket close code sent to a channel's subscribers when the history they know is gone. */
export const CLOSE_HISTORY_RESET = CloseCode.SERVICE_RESTART

/** Options for clients the adapter opens itself: fail fast instead of queueing while Redis is away. */
const OWN_CLIENT_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  autoResendUnfulfilledCommands: false,
  retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000)
}

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`
  if (typeof value === 'number') return `number ${value}`
  return typeof value
}

function fail (message: string): never {
  throw new FST_WS_NOTIFY_INVALID_OPTION(message)
}

function positiveInteger (where: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(`${where} must be an integer >= ${min}; got ${describe(value)}`)
  }
  return value
}

/** Checks the options shared by redisAdapter() and createPublisher(); `where` names the caller. */
export function readRedisOptions (input: unknown, where: string): RedisAdapterConfig {
  if (typeof input !== 'object' || input === null) fail(`${where} must be given { redis }; got ${describe(input)}`)
  const options = input as Record<string, unknown>
  const redis = options.redis
  const isUrl = typeof redis === 'string' && /^rediss?:\/\//.test(redis)
  const isClient = typeof redis === 'object' && redis !== null &&
    typeof (redis as Redis).duplicate === 'function' && typeof (redis as Redis).evalsha === 'function'
  if (!isUrl && !isClient) {
    fail(`${where}: redis must be an ioredis client (such as fastify.redis) or a redis:// URL; got ${describe(redis)}`)
  }
  const keyPrefix = options.keyPrefix ?? DEFAULTS.redis.keyPrefix
  if (typeof keyPrefix !== 'string' || keyPrefix.length === 0 || /\s/.test(keyPrefix)) {
    fail(`${where}: keyPrefix must be a non-empty string without spaces; got ${describe(keyPrefix)}`)
  }
  return Object.freeze({
    redis: redis as RedisSource,
    keyPrefix,
    publishTimeout: positiveInteger(`${where}: publishTimeout`, options.publishTimeout, DEFAULTS.redis.publishTimeout, 1),
    connectTimeout: options.connectTimeout === undefined ? null : positiveInteger(`${where}: connectTimeout`, options.connectTimeout, 0, 1),
    statsInterval: positiveInteger(`${where}: statsInterval`, options.statsInterval, DEFAULTS.redis.statsInterval, 100),
    statsTimeout: positiveInteger(`${where}: statsTimeout`, options.statsTimeout, DEFAULTS.redis.statsTimeout, 1)
  })
}

/** Where Redis is, for messages: the URL without its password, or the client's host and port. */
export function describeRedis (source: RedisSource): string {
  if (typeof source !== 'string') {
    const { host, port } = (source as Partial<Redis>).options ?? {}
    return `Redis at ${String(host)}:${String(port)}`
  }
  try {
    const url = new URL(source)
    if (url.password !== '') url.password = '***'
    return url.toString()
  } catch {
    return 'Redis'
  }
}

/**
 * Whether a failed send certainly never reached Redis: ioredis refused to write it (not
 * connected, no offline queue), or Redis answered with an error. Anything else (the connection
 * dropped with the command in flight) may have been executed.
 */
export function isUnsent (err: unknown): boolean {
  const { name, message } = err as { name?: unknown, message?: unknown }
  return name === 'ReplyError' || (typeof message === 'string' && message.startsWith("Stream isn't writeable"))
}

/** The rejection of a publish that failed: not sent (UNAVAILABLE) or unknown (TIMEOUT); ours as they are. */
export function publishFailure (err: unknown): Error {
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && code.startsWith('FST_WS_NOTIFY_')) return err as Error
  const message = (err as Error).message
  return isUnsent(err) ? new FST_WS_NOTIFY_BROKER_UNAVAILABLE(message) : new FST_WS_NOTIFY_BROKER_TIMEOUT(message)
}

/** ioredis, loaded only for a URL: an optional peer dependency, said so when it is missing. */
function requireIoredis (): typeof import('ioredis') {
  try {
    return require('ioredis') as typeof import('ioredis')
  } catch (err) {
    const { code, message } = err as { code?: unknown, message?: unknown }
    if (code === 'MODULE_NOT_FOUND' && String(message).includes("'ioredis'")) throw new FST_WS_NOTIFY_MISSING_IOREDIS(String(message).split('\n')[0])
    throw err
  }
}

/** Opens a client from a URL; ioredis is loaded only here, so it is needed only when used. */
export function openRedis (url: string, extra: RedisOptions = {}): Redis {
  const { Redis: RedisClient } = requireIoredis()
  return new RedisClient(url, { ...OWN_CLIENT_OPTIONS, ...extra })
}

/** Resolves when the client is ready; rejects after `timeout` ms. */
export async function whenReady (client: Redis, timeout: number): Promise<void> {
  if (client.status === 'wait') client.connect().catch(() => {})
  if (client.status === 'ready') return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady)
      reject(new FST_WS_NOTIFY_BROKER_UNAVAILABLE(`not connected after ${timeout} ms`))
    }, timeout)
    function onReady (): void {
      clearTimeout(timer)
      resolve()
    }
    client.once('ready', onReady)
  })
}

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex')
const PUBLISH_SHA = sha1(PUBLISH_WITH_OFFSET)
const READ_SHA = sha1(READ_HISTORY)

/** Runs a script by its SHA, loading it when Redis does not have it (first use, after a restart). */
export async function runScript (client: Redis, script: string, sha: string, keys: string[], args: Array<string | number>): Promise<unknown> {
  try {
    return await client.evalsha(sha, keys.length, ...keys, ...args)
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
    return await client.eval(script, keys.length, ...keys, ...args)
  }
}

/** A new epoch: random, so no restart ever reuses one. */
const newEpoch = (): string => randomBytes(9).toString('base64url')

/** Names of the keys and pub/sub channels of one prefix; how a message is put into Redis. */
export class RedisLayout {
  readonly prefix: string
  readonly directChannel: string
  readonly #channels: ReadonlyMap<string, ChannelConfig>
  readonly #patterns: ChannelPatterns
  /** Declared channel (namespace patterns included) -> its pub/sub channel. */
  readonly pubsub = new Map<string, string>()
  /** Pub/sub channel -> plugin channel. */
  readonly byPubsub = new Map<string, string>()

  constructor (prefix: string, channels: ReadonlyMap<string, ChannelConfig>) {
    this.prefix = prefix
    this.#channels = channels
    this.#patterns = new ChannelPatterns([...channels.keys()])
    this.directChannel = `${prefix}direct`
    for (const name of channels.keys()) {
      const pubsub = `${prefix}ch:${name}`
      this.pubsub.set(name, pubsub)
      this.byPubsub.set(pubsub, name)
    }
  }

  stateKey (channel: string): string { return `${this.prefix}{${channel}}:state` }
  logKey (channel: string): string { return `${this.prefix}{${channel}}:log` }

  /** The concrete channel of a namespace message: `user:` + `42` of pattern `user:*`, if it is one. */
  concreteOf (pattern: string, rest: string): string | undefined {
    if (!isChannelPattern(pattern)) return undefined
    const channel = `${pattern.slice(0, -1)}${rest}`
    return this.#patterns.match(channel) === pattern ? channel : undefined
  }

  /**
   * Puts one serialized envelope into Redis along its route, tagged with `tag` so its publisher
   * recognizes it when it comes back. Resolves with the number of subscribed instances.
   * Payloads: `h EPOCH OFFSET TAG\nJSON` (history), `c TAG\nJSON`, `d CLIENT_ID TAG\nJSON`,
   * `n TAG REST\nJSON` on a namespace's channel (REST: what its `*` stands for) and
   * `h EPOCH OFFSET TAG REST\nJSON` on a namespace's channel with history; `i ...` (redis-inbox.ts);
   * `b TAG\nJSON` on the direct channel is a broadcast (an older instance ignores it).
   */
  async send (client: Redis, route: Route, json: string, tag: string): Promise<number> {
    if (route.kind === 'client') return await client.publish(this.directChannel, `d ${route.clientId} ${tag}\n${json}`)
    if (route.kind === 'all') return await client.publish(this.directChannel, `b ${tag}\n${json}`)
    const channel = route.channel
    const declared = isChannelPattern(channel) ? undefined : this.#channels.get(channel)
    // A namespace's channel goes on its declaration's pub/sub channel, with what `*` stands for.
    let header = tag
    let pubsub = this.pubsub.get(channel) as string
    let history = declared?.history ?? null
    if (declared === undefined) {
      const pattern = this.#patterns.match(channel)
      if (pattern === undefined) throw new FST_WS_NOTIFY_UNKNOWN_CHANNEL(channel, [...this.#channels.keys()].join(', '))
      const rest = channel.slice(pattern.length - 1)
      pubsub = this.pubsub.get(pattern) as string
      history = (this.#channels.get(pattern) as ChannelConfig).history
      if (history === null) return await client.publish(pubsub, `n ${tag} ${rest}\n${json}`)
      header = `${tag} ${rest}`
    } else if (history === null) {
      return await client.publish(pubsub, `c ${tag}\n${json}`)
    }
    // The publisher serialized `..."offset":0}`: the script writes the real offset for that 0.
    return await runScript(client, PUBLISH_WITH_OFFSET, PUBLISH_SHA, [this.stateKey(channel), this.logKey(channel)],
      [newEpoch(), json.slice(0, -2), history.size, pubsub, header, Date.now()]) as number
  }
}

interface Pending {
  resolve (count: number): void
  reject (err: Error): void
  timer: NodeJS.Timeout
  /** Redis accepted it; now waiting for it to come back through the subscription. */
  sent: boolean
}

/** A message of a history channel received, not yet applied. */
interface Held {
  readonly epoch: string
  readonly offset: number
  readonly tag: string
  readonly json: string
  readonly time: number
}

/** Per-channel state of the mirror feed. */
interface Feed {
  readonly mirror: ChannelLog
  /** Messages received while a read of the Stream is in flight, or out of order. */
  held: Held[]
  reading: boolean
  readAgain: boolean
  /** A namespace channel's first read, until it is done (`load`). */
  loading: Promise<void> | null
}

class RedisAdapter implements Adapter {
  readonly history: MirroredHistory
  /** Present when some channel has presence (redis-presence.ts). */
  readonly presence: RedisPresence | undefined
  /** Present with the `inbox` option (redis-inbox.ts). */
  readonly inbox: RedisInbox | undefined
  readonly #hub: Hub
  readonly #log: AdapterContext['log']
  readonly #config: RedisAdapterConfig
  readonly #layout: RedisLayout
  readonly #command: Redis
  readonly #subscriber: Redis
  readonly #ownsCommand: boolean
  readonly #id = randomBytes(6).toString('base64url')
  #sequence = 0
  readonly #pending = new Map<string, Pending>()
  readonly #feeds = new Map<string, Feed>()
  readonly #stats: ClusterStatsReporter
  readonly #connectTimeout: number
  readonly #target: string
  /** Every pub/sub channel of the subscription. */
  readonly #subscriptions: string[]
  #started = false
  #closed = false
  /** Logged once per outage (ioredis emits one error per failed reconnect attempt); all are counted. */
  #errorLogged = false
  readonly #onError = (err: Error): void => {
    this.#hub.counters.brokerErrors++
    if (this.#errorLogged) return
    this.#errorLogged = true
    this.#log.warn({ err }, 'fastify-ws-notify: Redis error; notify() rejects with FST_WS_NOTIFY_BROKER_UNAVAILABLE until it is back')
  }

  readonly #onCommandReady = (): void => {
    this.#errorLogged = false
    if (this.#started) {
      this.#readAll()
      this.presence?.heartbeat().then(async () => await this.presence?.resync()).catch(this.#onError)
    }
  }

  constructor (context: AdapterContext, config: RedisAdapterConfig) {
    this.#hub = context.hub
    this.#log = context.log
    this.#config = config
    this.#connectTimeout = config.connectTimeout ?? defaultConnectTimeout(context.pluginTimeout)
    this.#target = describeRedis(config.redis)
    this.history = new MirroredHistory(context.channels)
    this.#layout = new RedisLayout(config.keyPrefix, context.channels)
    this.#ownsCommand = typeof config.redis === 'string'
    this.#command = typeof config.redis === 'string' ? openRedis(config.redis) : config.redis
    // Our own connection for SUBSCRIBE; autoResubscribe restores it after every reconnect.
    this.#subscriber = this.#command.duplicate({ autoResubscribe: true, lazyConnect: false })
    this.#command.on('error', this.#onError)
    this.#command.on('ready', this.#onCommandReady)
    this.#subscriber.on('error', this.#onError)
    this.#subscriber.on('ready', () => { if (this.#started) this.#resubscribed() })
    this.#subscriber.on('message', (pubsub: string, payload: string) => this.#onMessage(pubsub, payload))
    for (const [name, config] of context.channels) {
      // A namespace's channels get their feeds when first subscribed here (#load).
      if (config.history !== null && !isChannelPattern(name)) {
        this.#feeds.set(name, { mirror: this.history.mirror(name) as ChannelLog, held: [], reading: false, readAgain: false, loading: null })
      }
    }
    this.history.feeds = {
      inUse: (channel) => this.#hub.subscribers.has(channel) || this.#feeds.get(channel)?.reading === true,
      dropped: (channel) => { this.#feeds.delete(channel) },
      load: (channel) => this.#load(channel)
    }
    this.#stats = new ClusterStatsReporter(this.#command, config.keyPrefix, this.#id, config.statsInterval, config.statsTimeout,
      () => this.#hub.stats())
    const withPresence = [...context.channels.values()].some((channel) => channel.presence) && context.presence !== undefined
    this.presence = withPresence
      ? new RedisPresence(this.#command, config.keyPrefix, this.#id, config.statsInterval, context, context.presence as NonNullable<AdapterContext['presence']>, this.#onError)
      : undefined
    this.inbox = context.inbox == null
      ? undefined
      : new RedisInbox(this.#command, this.#subscriber, config.keyPrefix, this.#layout.directChannel, context.inbox, runScript)
    this.#subscriptions = [this.#layout.directChannel, ...this.#layout.pubsub.values(), ...this.#stats.channels,
      ...(this.presence === undefined ? [] : [this.presence.events])]
  }

  /**
   * Connects, subscribes, loads history and reports stats, all within connectTimeout (below
   * Fastify's pluginTimeout by default): registration fails with BROKER_UNAVAILABLE naming Redis
   * and the step that did not finish.
   */
  async ready (): Promise<void> {
    const timeout = this.#connectTimeout
    const progress = { step: 'not connected' }
    const steps = this.#start(progress, timeout)
    steps.catch(() => {})
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new FST_WS_NOTIFY_BROKER_UNAVAILABLE(`${this.#target}: ${progress.step} after ${timeout} ms`)), timeout)
    })
    try {
      await Promise.race([steps, expired])
    } catch (err) {
      if ((err as { code?: unknown }).code === 'FST_WS_NOTIFY_BROKER_UNAVAILABLE') throw err
      throw new FST_WS_NOTIFY_BROKER_UNAVAILABLE(`${this.#target}: ${progress.step}: ${(err as Error).message}`)
    } finally {
      clearTimeout(timer)
    }
  }

  async #start (progress: { step: string }, timeout: number): Promise<void> {
    // ready() bounds the whole start; the waits here only bound their listeners. Each step checks
    // #closed: after a failed start the adapter is closed and must stay inert.
    const listenerBound = timeout * 2
    await whenReady(this.#subscriber, listenerBound)
    progress.step = 'connected, but not subscribed'
    if (this.#closed) return
    await this.#subscriber.subscribe(...this.#subscriptions)
    progress.step = 'not connected (publishing connection)'
    await whenReady(this.#command, listenerBound)
    progress.step = 'connected, but history not read'
    if (this.#closed) return
    await Promise.all([...this.#feeds.keys()].map(async (channel) => await this.#read(channel)))
    progress.step = 'connected, but stats not reported'
    if (this.#closed) return
    this.#started = true
    this.#stats.start()
    await this.#stats.report()
    await this.presence?.start()
  }

  /** After a reconnect: make sure the subscription is in place, then fetch what was missed. */
  #resubscribed (): void {
    this.#subscriber.subscribe(...this.#subscriptions)
      .then(() => this.#readAll(), () => {})
  }

  #readAll (): void {
    for (const channel of this.#feeds.keys()) this.#read(channel).catch(() => {})
  }

  async publish (route: Route, json: string): Promise<number> {
    // Checked before sending: a client that is not ready, or whose socket is ending, does not
    // write the command (ioredis queues it, or refuses): certainly not sent.
    if (this.#command.status !== 'ready') return this.#notSent(route, json, `connection ${this.#command.status}`)
    if (this.#command.stream?.writable === false) return this.#notSent(route, json, 'connection closing')
    const tag = `${this.#id}:${++this.#sequence}`
    return await new Promise<number>((resolve, reject) => {
      const pending: Pending = { resolve, reject, sent: false, timer: setTimeout(() => this.#timedOut(tag), this.#config.publishTimeout) }
      this.#pending.set(tag, pending)
      const sent = route.kind === 'client' && this.inbox !== undefined
        ? this.inbox.send(this.#command, route.clientId, json, tag)
        : this.#layout.send(this.#command, route, json, tag)
      sent.then(() => {
        pending.sent = true
      }, (err: Error) => {
        if (!this.#pending.delete(tag)) return
        clearTimeout(pending.timer)
        if (isUnsent(err)) {
          this.#notSent(route, json, err.message).catch(reject)
        } else {
          if ((err as { code?: unknown }).code !== 'FST_WS_NOTIFY_UNKNOWN_CHANNEL') this.#hub.counters.brokerErrors++
          reject(publishFailure(err))
        }
      })
    })
  }

  /**
   * No confirmation in time. Sent and confirmed but not back yet: our subscription lags, and it is
   * delivered here when it arrives. Not confirmed: the command was written, so Redis may still
   * run it: the outcome is unknown, and nothing is delivered here now (if Redis publishes it, it
   * comes back and is delivered once, like any other message).
   */
  #timedOut (tag: string): void {
    const pending = this.#pending.get(tag)
    if (pending === undefined) return
    this.#pending.delete(tag)
    if (pending.sent) return pending.resolve(0)
    this.#hub.counters.brokerErrors++
    pending.reject(new FST_WS_NOTIFY_BROKER_TIMEOUT(`no answer from ${this.#target} within ${this.#config.publishTimeout} ms`))
  }

  /**
   * The message certainly did not reach Redis: counts the error and rejects. A message without
   * history still reaches this instance's sockets (it cannot come back from Redis, so only once);
   * one with history (or for an inbox) does not, because only Redis can give it an offset.
   */
  async #notSent (route: Route, json: string, reason: string): Promise<never> {
    this.#hub.counters.brokerErrors++
    const withHistory = route.kind === 'channel' ? this.history.has(route.channel) : route.kind === 'client' && this.inbox !== undefined
    const delivered = withHistory ? 0 : deliverLocally(this.#hub, route, json)
    const err = new FST_WS_NOTIFY_BROKER_UNAVAILABLE(`${reason}; delivered to ${delivered} local socket(s) only`)
    throw Object.assign(err, { delivered })
  }

  /** Resolves the notify() that published `tag`, if it was this instance's. */
  #settle (tag: string, count: number): void {
    const pending = this.#pending.get(tag)
    if (pending === undefined) return
    this.#pending.delete(tag)
    clearTimeout(pending.timer)
    pending.resolve(count)
  }

  /** History channels whose publisher was seen without their history, warned about once. */
  readonly #warnedWithoutOffset = new Set<string>()

  /**
   * A message without offset on a channel this instance keeps history for: its publisher (a
   * createPublisher) was given other declarations. Delivered live, but no client can resume it.
   */
  #warnWithoutOffset (channel: string): void {
    if (this.#warnedWithoutOffset.has(channel)) return
    this.#warnedWithoutOffset.add(channel)
    this.#log.warn({ channel }, 'fastify-ws-notify: a message without offset on a channel with history: give createPublisher the same declarations as the instances (defineChannels), history included')
  }

  #onMessage (pubsub: string, payload: string): void {
    const direct = pubsub === this.#layout.directChannel
    const channel = direct ? undefined : this.#layout.byPubsub.get(pubsub)
    if (!direct && channel === undefined) {
      if (pubsub === this.presence?.events) this.presence.onMessage(payload)
      else this.#stats.onMessage(pubsub, payload)
      return
    }
    const newline = payload.indexOf('\n')
    if (newline === -1) return
    const header = payload.slice(0, newline).split(' ')
    const json = payload.slice(newline + 1)
    if (channel === undefined) {
      if (header[0] === 'b' && header.length === 2) {
        this.#settle(header[1], deliverLocally(this.#hub, { kind: 'all' }, json))
        return
      }
      if (header[0] === 'i' && header.length === 5) {
        // A direct message kept in its inbox: delivered to the sockets here, held for those reading it.
        this.inbox?.received(header[1], header[3], Number(header[4]), json)
        this.#settle(header[2], deliverLocally(this.#hub, { kind: 'client', clientId: header[1] }, json))
        return
      }
      if (header[0] !== 'd' || header.length !== 3) return
      this.#settle(header[2], deliverLocally(this.#hub, { kind: 'client', clientId: header[1] }, json))
      return
    }
    if (header[0] === 'c' && header.length === 2) {
      if (this.#feeds.has(channel)) this.#warnWithoutOffset(channel)
      this.#settle(header[1], deliverLocally(this.#hub, { kind: 'channel', channel }, json))
      return
    }
    if (header[0] === 'n' && header.length === 3) {
      const concrete = this.#layout.concreteOf(channel, header[2])
      if (concrete !== undefined) this.#settle(header[1], deliverLocally(this.#hub, { kind: 'channel', channel: concrete }, json))
      return
    }
    if (header[0] === 'h' && header.length === 5) {
      const concrete = this.#layout.concreteOf(channel, header[4])
      if (concrete === undefined) return
      const nsFeed = this.#feeds.get(concrete)
      // No copy here: nobody here is subscribed (a copy in use is never dropped).
      if (nsFeed === undefined) this.#settle(header[3], deliverLocally(this.#hub, { kind: 'channel', channel: concrete }, json))
      else this.#receive(concrete, nsFeed, { epoch: header[1], offset: Number(header[2]), tag: header[3], json, time: Date.now() })
      return
    }
    const feed = this.#feeds.get(channel)
    if (header[0] !== 'h' || header.length !== 4 || feed === undefined) return
    this.#receive(channel, feed, { epoch: header[1], offset: Number(header[2]), tag: header[3], json, time: Date.now() })
  }

  /**
   * The next message in order is applied at once. During a read of the Stream every message waits
   * for it (the subscription delivers in order, so they follow what the read returns); anything
   * out of order or of another epoch starts a read.
   */
  #receive (channel: string, feed: Feed, message: Held): void {
    const { mirror } = feed
    if (feed.reading) {
      feed.held.push(message)
    } else if (message.epoch === mirror.epoch && message.offset === mirror.offset + 1) {
      this.#apply(channel, mirror, message)
    } else if (message.epoch === mirror.epoch && message.offset <= mirror.offset) {
      this.#settle(message.tag, 0)
    } else {
      feed.held.push(message)
      this.#read(channel).catch(() => {})
    }
  }

  /** Keeps and delivers one message: one synchronous step (see history.ts, subscribeWithHistory). */
  #apply (channel: string, mirror: ChannelLog, message: Held): void {
    mirror.append(message.json, message.time)
    this.#settle(message.tag, deliverLocally(this.#hub, { kind: 'channel', channel }, message.json))
  }

  /**
   * Reads the channel's epoch, latest offset and what the Stream holds after the mirror's last
   * offset, then applies it and the held messages in offset order. One read per channel at a
   * time; a request during a read runs another after it.
   */
  async #read (channel: string): Promise<void> {
    const feed = this.#feeds.get(channel)
    // A namespace channel's copy dropped meanwhile: nothing to feed.
    if (feed === undefined) return
    if (feed.reading) {
      feed.readAgain = true
      return
    }
    feed.reading = true
    const { mirror } = feed
    try {
      const [epoch, latest, entries] = await runScript(this.#command, READ_HISTORY, READ_SHA,
        [this.#layout.stateKey(channel), this.#layout.logKey(channel)],
        [newEpoch(), mirror.epoch, mirror.offset + 1]) as [string, number, Array<[string, string[]]>]
      if (epoch !== mirror.epoch) {
        const first = entries.length > 0 ? parseInt(entries[0][0], 10) : latest + 1
        this.#holeAt(channel, mirror, epoch, first - 1)
      }
      const messages: Held[] = entries.map(([id, fields]) => {
        const value: Record<string, string> = {}
        for (let i = 0; i < fields.length; i += 2) value[fields[i]] = fields[i + 1]
        // On a namespace channel `g` also holds what its `*` stands for, after the tag.
        return { epoch, offset: parseInt(id, 10), tag: (value.g ?? '').split(' ')[0], json: value.m ?? '', time: Number(value.t) }
      })
      const held = feed.held
      feed.held = []
      for (const message of held) {
        if (message.epoch === epoch) {
          messages.push(message)
        } else {
          // Older than this read (dropped) or newer (the next read finds it in the Stream).
          this.#settle(message.tag, 0)
          feed.readAgain = true
        }
      }
      messages.sort((a, b) => a.offset - b.offset)
      for (const message of messages) {
        if (message.offset <= mirror.offset) {
          this.#settle(message.tag, 0)
          continue
        }
        // Gone from the Stream before this instance got it (trimmed while it was away).
        if (message.offset > mirror.offset + 1) this.#holeAt(channel, mirror, epoch, message.offset - 1)
        this.#apply(channel, mirror, message)
      }
    } finally {
      feed.reading = false
    }
    // Only after a read that worked: a failed one waits for the next 'ready' (no busy loop).
    if (feed.readAgain) {
      feed.readAgain = false
      await this.#read(channel)
    }
  }

  /**
   * A namespace channel's copy, made and read from its Stream when a socket here first subscribes
   * to it (MirroredHistory.open); resolves once resume and `latest` can answer from it. Undefined
   * when the channel needs no read (declared, or its copy is here already).
   */
  #load (channel: string): Promise<void> | undefined {
    const known = this.#feeds.get(channel)
    if (known !== undefined) return known.loading ?? undefined
    const mirror = this.history.open(channel)
    if (mirror === undefined) return undefined
    const feed: Feed = { mirror, held: [], reading: false, readAgain: false, loading: null }
    this.#feeds.set(channel, feed)
    feed.loading = this.#read(channel).then(() => { feed.loading = null }, (err: unknown) => {
      // Not read: forgotten, so the next subscribe tries again.
      if (this.#feeds.get(channel) === feed) {
        this.#feeds.delete(channel)
        this.history.forget(channel)
      }
      throw err
    })
    return feed.loading
  }

  /**
   * The mirror cannot continue without a hole: it starts over at `offset` of `epoch`, and this
   * instance's subscribers of the channel are closed (1012) so that their client resumes and
   * learns `recovered: false`. Not at start, when nobody is subscribed yet.
   */
  #holeAt (channel: string, mirror: ChannelLog, epoch: string, offset: number): void {
    const known = mirror.epoch !== ''
    mirror.reset(epoch, offset)
    if (!known) return
    const subscribers = this.#hub.subscribers.get(channel)
    if (subscribers === undefined) return
    this.#log.warn({ channel }, 'fastify-ws-notify: channel history lost messages; closing its subscribers so they resume')
    for (const connection of [...subscribers]) {
      this.#hub.remove(connection)
      this.#hub.close(connection, CLOSE_HISTORY_RESET, 'channel history reset')
    }
  }

  async clusterStats (): Promise<ClusterStats> {
    if (this.#command.status !== 'ready') throw new FST_WS_NOTIFY_BROKER_UNAVAILABLE(`connection ${this.#command.status}`)
    return await this.#stats.read()
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    // Bounded: a Redis that accepts connections but does not answer cannot hold Fastify's close.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.all([this.#stats.stop(), this.presence?.stop()]), new Promise<void>((resolve) => { timer = setTimeout(resolve, this.#config.publishTimeout) })])
    clearTimeout(timer)
    for (const [tag, pending] of this.#pending) {
      clearTimeout(pending.timer)
      this.#pending.delete(tag)
      // Written to Redis already: it may be published, by Redis, after all.
      pending.reject(new FST_WS_NOTIFY_BROKER_TIMEOUT('the adapter closed before Redis confirmed it'))
    }
    this.#subscriber.disconnect()
    this.#command.off('ready', this.#onCommandReady)
    if (this.#ownsCommand) {
      this.#command.disconnect()
    } else {
      // The user's client stays open: only our listener goes, once nothing more can be emitted for us.
      this.#command.off('error', this.#onError)
    }
  }
}

/**
 * The Redis adapter: `adapter: redisAdapter({ redis: fastify.redis })` or `{ redis: 'redis://...' }`.
 * Options are checked here, at the call, with errors naming the option.
 */
export function redisAdapter (options: RedisAdapterOptions): AdapterFactory {
  const config = readRedisOptions(options, 'redisAdapter')
  return Object.freeze({
    name: 'redis',
    create: (context: AdapterContext) => new RedisAdapter(context, config)
  })
}
