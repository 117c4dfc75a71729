// The Redis adapter, the transport: connections, Lua scripts, pub/sub and publish timeouts. Every
// instance publishes through Redis and delivers from its own Redis subscription, its own messages
// included, so each instance sees each channel's messages in the one order Redis gave them.
// History channels get their offsets from a Lua script that increments, appends to a Stream
// trimmed to the history size, and publishes in one atomic step (redis-scripts.ts); each instance
// mirrors that Stream in memory (redis-history.ts). Putting what arrives in offset order, holes
// and their repair are decided without Redis, in mirror-feed.ts; this file reads the Stream for
// it and delivers what it applies, in the same synchronous step, so resume works on any instance.
// Options are read in redis-options.ts.
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
// are gone, or the epoch changed (Redis lost its data), the channel's subscribers here are closed
// with 1012 so their client resumes and is told `recovered: false`: a hole is never silent.
//
// Namespace channels (`user:*` declared, `user:42` published) share their declaration's pub/sub
// channel; the payload's header carries the part the `*` stands for. With history, each concrete
// channel has its own Stream and offsets; an instance mirrors it once a socket there subscribes
// (redis-history.ts, MirrorFeed.load).
import { createHash, randomBytes } from 'node:crypto'
import type { Redis, RedisOptions } from 'ioredis'
import type { Adapter, AdapterContext, AdapterFactory, Published, Route } from '../core/adapter'
import type { ChannelDeclarations } from '../core/config-types'
import { MirroredHistory } from './redis-history'
import { offsetPrefix } from '../core/history'
import { MirrorFeed, type HistoryRead, type Received } from './mirror-feed'
import { PUBLISH_WITH_OFFSET, READ_HISTORY } from './redis-scripts'
import { ClusterStatsReporter, type ClusterStats } from '../core/cluster-stats'
import { isChannelPattern } from '../core/declared-channels'
import { RedisPresence } from './redis-presence'
import { RedisInbox } from './redis-inbox'
import { CloseCode } from '../core/protocol'
import {
  FST_WS_NOTIFY_BROKER_TIMEOUT,
  FST_WS_NOTIFY_BROKER_UNAVAILABLE,
  FST_WS_NOTIFY_MISSING_IOREDIS,
  FST_WS_NOTIFY_UNKNOWN_CHANNEL
} from '../core/errors'
import { defaultConnectTimeout, describeRedis, readRedisOptions, type RedisAdapterConfig, type RedisAdapterOptions } from './redis-options'

// Options parsing lives in redis-options.ts; these stay importable from here.
export { defaultConnectTimeout, describeRedis, readRedisOptions, type RedisAdapterConfig, type RedisAdapterOptions, type RedisSource } from './redis-options'

/** WebSocket close code sent to a channel's subscribers when the history they know is gone. */
export const CLOSE_HISTORY_RESET = CloseCode.SERVICE_RESTART

/** Options for clients the adapter opens itself: fail fast instead of queueing while Redis is away. */
const OWN_CLIENT_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  autoResendUnfulfilledCommands: false,
  retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000)
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
  readonly #channels: ChannelDeclarations
  /** Declared channel (namespace patterns included) -> its pub/sub channel. */
  readonly pubsub = new Map<string, string>()
  /** Pub/sub channel -> plugin channel. */
  readonly byPubsub = new Map<string, string>()

  constructor (prefix: string, channels: ChannelDeclarations) {
    this.prefix = prefix
    this.#channels = channels
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
    return this.#channels.nameOf(channel) === pattern ? channel : undefined
  }

  /**
   * Puts one serialized envelope (without offset) into Redis along its route, tagged with `tag`
   * so its publisher recognizes it when it comes back. Resolves with the number of subscribed instances.
   * Payloads: `h EPOCH OFFSET TAG\nJSON` (history), `c TAG\nJSON`, `d CLIENT_ID TAG\nJSON`,
   * `n TAG REST\nJSON` on a namespace's channel (REST: what its `*` stands for) and
   * `h EPOCH OFFSET TAG REST\nJSON` on a namespace's channel with history; `i ...` (redis-inbox.ts);
   * `b TAG\nJSON` on the direct channel is a broadcast (an older instance ignores it).
   */
  async send (client: Redis, route: Route, json: string, tag: string): Promise<number> {
    if (route.kind === 'client') return await client.publish(this.directChannel, `d ${route.clientId} ${tag}\n${json}`)
    if (route.kind === 'all') return await client.publish(this.directChannel, `b ${tag}\n${json}`)
    const channel = route.channel
    const declared = this.#channels.declarationOf(channel)
    if (declared === undefined) throw new FST_WS_NOTIFY_UNKNOWN_CHANNEL(channel, [...this.#channels.keys()].join(', '))
    // A namespace's channel goes on its declaration's pub/sub channel, with what `*` stands for.
    let header = tag
    const pubsub = this.pubsub.get(declared.name) as string
    const history = declared.history
    if (declared.name !== channel) {
      const rest = channel.slice(declared.name.length - 1)
      if (history === null) return await client.publish(pubsub, `n ${tag} ${rest}\n${json}`)
      header = `${tag} ${rest}`
    } else if (history === null) {
      return await client.publish(pubsub, `c ${tag}\n${json}`)
    }
    // The script takes the offset and appends it as withOffset does (history.ts).
    return await runScript(client, PUBLISH_WITH_OFFSET, PUBLISH_SHA, [this.stateKey(channel), this.logKey(channel)],
      [newEpoch(), offsetPrefix(json), history.size, pubsub, header, Date.now()]) as number
  }
}

interface Pending {
  resolve (published: Published): void
  reject (err: Error): void
  timer: NodeJS.Timeout
  /** Redis accepted it; now waiting for it to come back through the subscription. */
  sent: boolean
}

class RedisAdapter implements Adapter {
  readonly history: MirroredHistory
  /** Present when some channel has presence (redis-presence.ts). */
  readonly presence: RedisPresence | undefined
  /** Present with the `inbox` option (redis-inbox.ts). */
  readonly inbox: RedisInbox | null
  readonly #context: AdapterContext
  readonly #log: AdapterContext['log']
  readonly #config: RedisAdapterConfig
  readonly #layout: RedisLayout
  readonly #command: Redis
  readonly #subscriber: Redis
  readonly #ownsCommand: boolean
  readonly #id = randomBytes(6).toString('base64url')
  #sequence = 0
  readonly #pending = new Map<string, Pending>()
  /** The order of history channels' messages (mirror-feed.ts); this file is its transport. */
  readonly #feed: MirrorFeed
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
    this.#context.brokerError()
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
    this.#context = context
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
    this.#feed = new MirrorFeed(this.history, context.channels, {
      read: async (channel, epoch, from) => await this.#readHistory(channel, epoch, from),
      deliver: (channel, message) => { this.#settle(message.tag, context.deliver({ kind: 'channel', channel }, message.json), message) },
      skip: (message) => { this.#settle(message.tag, 0) },
      reset: (channel) => { this.#reset(channel) },
      hasSubscribers: context.hasSubscribers
    })
    this.#stats = new ClusterStatsReporter(this.#command, config.keyPrefix, this.#id, config.statsInterval, config.statsTimeout,
      context.stats)
    const withPresence = [...context.channels.values()].some((channel) => channel.presence) && context.presence !== undefined
    this.presence = withPresence
      ? new RedisPresence(this.#command, config.keyPrefix, this.#id, config.statsInterval, context, context.presence as NonNullable<AdapterContext['presence']>, this.#onError)
      : undefined
    this.inbox = context.inbox === null
      ? null
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
    await this.#feed.readAll()
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
    this.#feed.readAll().catch(() => {})
  }

  async publish (route: Route, envelope: string): Promise<Published> {
    // Checked before sending: a client that is not ready, or whose socket is ending, does not
    // write the command (ioredis queues it, or refuses): certainly not sent.
    if (this.#command.status !== 'ready') return this.#notSent(route, envelope, `connection ${this.#command.status}`)
    if (this.#command.stream?.writable === false) return this.#notSent(route, envelope, 'connection closing')
    const tag = `${this.#id}:${++this.#sequence}`
    return await new Promise<Published>((resolve, reject) => {
      const pending: Pending = { resolve, reject, sent: false, timer: setTimeout(() => this.#timedOut(tag), this.#config.publishTimeout) }
      this.#pending.set(tag, pending)
      const sent = route.kind === 'client' && this.inbox !== null
        ? this.inbox.send(this.#command, route.clientId, envelope, tag)
        : this.#layout.send(this.#command, route, envelope, tag)
      sent.then(() => {
        pending.sent = true
      }, (err: Error) => {
        if (!this.#pending.delete(tag)) return
        clearTimeout(pending.timer)
        if (isUnsent(err)) {
          this.#notSent(route, envelope, err.message).catch(reject)
        } else {
          if ((err as { code?: unknown }).code !== 'FST_WS_NOTIFY_UNKNOWN_CHANNEL') this.#context.brokerError()
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
    if (pending.sent) return pending.resolve({ delivered: 0 })
    this.#context.brokerError()
    pending.reject(new FST_WS_NOTIFY_BROKER_TIMEOUT(`no answer from ${this.#target} within ${this.#config.publishTimeout} ms`))
  }

  /**
   * The message certainly did not reach Redis: counts the error and rejects. A message without
   * history still reaches this instance's sockets (it cannot come back from Redis, so only once);
   * one with history (or for an inbox) does not, because only Redis can give it an offset.
   */
  async #notSent (route: Route, json: string, reason: string): Promise<never> {
    this.#context.brokerError()
    const withHistory = route.kind === 'channel' ? this.history.has(route.channel) : route.kind === 'client' && this.inbox !== null
    const delivered = withHistory ? 0 : this.#context.deliver(route, json)
    const err = new FST_WS_NOTIFY_BROKER_UNAVAILABLE(`${reason}; delivered to ${delivered} local socket(s) only`)
    throw Object.assign(err, { delivered })
  }

  /** Resolves the notify() that published `tag`, if it was this instance's; `kept`: its epoch and offset. */
  #settle (tag: string, delivered: number, kept?: { readonly epoch: string, readonly offset: number }): void {
    const pending = this.#pending.get(tag)
    if (pending === undefined) return
    this.#pending.delete(tag)
    clearTimeout(pending.timer)
    pending.resolve(kept === undefined ? { delivered } : { delivered, position: { epoch: kept.epoch, offset: kept.offset } })
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
        this.#settle(header[1], this.#context.deliver({ kind: 'all' }, json))
        return
      }
      if (header[0] === 'i' && header.length === 5) {
        // A direct message kept in its inbox: delivered to the sockets here, held for those reading it.
        const kept = { epoch: header[3], offset: Number(header[4]) }
        this.inbox?.received(header[1], kept.epoch, kept.offset, json)
        this.#settle(header[2], this.#context.deliver({ kind: 'client', clientId: header[1] }, json), kept)
        return
      }
      if (header[0] !== 'd' || header.length !== 3) return
      this.#settle(header[2], this.#context.deliver({ kind: 'client', clientId: header[1] }, json))
      return
    }
    if (header[0] === 'c' && header.length === 2) {
      if (this.#feed.has(channel)) this.#warnWithoutOffset(channel)
      this.#settle(header[1], this.#context.deliver({ kind: 'channel', channel }, json))
      return
    }
    if (header[0] === 'n' && header.length === 3) {
      const concrete = this.#layout.concreteOf(channel, header[2])
      if (concrete !== undefined) this.#settle(header[1], this.#context.deliver({ kind: 'channel', channel: concrete }, json))
      return
    }
    if (header[0] === 'h' && header.length === 5) {
      const concrete = this.#layout.concreteOf(channel, header[4])
      if (concrete === undefined) return
      // No copy here: nobody here is subscribed (a copy in use is never dropped).
      if (!this.#feed.has(concrete)) this.#settle(header[3], this.#context.deliver({ kind: 'channel', channel: concrete }, json), { epoch: header[1], offset: Number(header[2]) })
      else this.#feed.receive(concrete, { epoch: header[1], offset: Number(header[2]), tag: header[3], json, time: Date.now() })
      return
    }
    if (header[0] !== 'h' || header.length !== 4) return
    this.#feed.receive(channel, { epoch: header[1], offset: Number(header[2]), tag: header[3], json, time: Date.now() })
  }

  /** Reads a channel's epoch, latest offset and its Stream from `from` (all of it in another epoch). */
  async #readHistory (channel: string, knownEpoch: string, from: number): Promise<HistoryRead> {
    const [epoch, latest, entries] = await runScript(this.#command, READ_HISTORY, READ_SHA,
      [this.#layout.stateKey(channel), this.#layout.logKey(channel)],
      [newEpoch(), knownEpoch, from]) as [string, number, Array<[string, string[]]>]
    const messages: Received[] = entries.map(([id, fields]) => {
      const value: Record<string, string> = {}
      for (let i = 0; i < fields.length; i += 2) value[fields[i]] = fields[i + 1]
      // On a namespace channel `g` also holds what its `*` stands for, after the tag.
      return { epoch, offset: parseInt(id, 10), tag: (value.g ?? '').split(' ')[0], json: value.m ?? '', time: Number(value.t) }
    })
    return { epoch, latest, messages }
  }

  /** The channel's copy restarted after a hole: its subscribers here are closed (1012) so that their client resumes and learns `recovered: false`. */
  #reset (channel: string): void {
    if (!this.#context.hasSubscribers(channel)) return
    this.#log.warn({ channel }, 'fastify-ws-notify: channel history lost messages; closing its subscribers so they resume')
    this.#context.evict(channel, CLOSE_HISTORY_RESET, 'channel history reset')
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
