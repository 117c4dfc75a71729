// Publishing from outside Fastify (workers, scheduled jobs): the same channel declarations, the
// same validation and serialization as `app.notify` (publisher.ts), put into Redis exactly as the
// Redis adapter does, so every instance of the cluster delivers them, with offsets and history.
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Adapter, Published, Route } from '../core/adapter'
import { buildConfig } from '../config/options'
import { ChannelRegistry } from '../core/channels'
import { Counters } from '../core/stats'
import { createPublisher as createCorePublisher } from '../core/publisher'
import { MirroredHistory } from './redis-history'
import { readInbox } from '../config/inbox-options'
import { RedisInbox } from './redis-inbox'
import { RedisLayout, openRedis, publishFailure, runScript, whenReady } from './redis-adapter'
import { describeRedis, readRedisOptions, type RedisSource } from './redis-options'
import { FST_WS_NOTIFY_BROKER_TIMEOUT, FST_WS_NOTIFY_BROKER_UNAVAILABLE } from '../core/errors'
import type { ChannelsOption, ExternalPublisherOptions as PublicExternalPublisherOptions } from '../../types/index'

/** The public options (types/index.d.ts), with the ioredis client type lib works with. */
export interface ExternalPublisherOptions extends Omit<PublicExternalPublisherOptions<ChannelsOption>, 'redis'> {
  /** An ioredis client (left open by close()) or a redis:// URL (closed by close()). */
  redis: RedisSource
}

/**
 * Given to the option parser in place of the plugin's hooks: a publisher has no sockets, so the
 * rule that a namespace (`user:*`) needs authenticate or authorize (which guards subscribers) is moot.
 */
const noSubscribers = (): boolean => false

export interface ExternalPublisher {
  /** Resolves with the number of instances subscribed in Redis that received it. */
  notify (channel: string, type: string, data: unknown): Promise<number>
  sendTo (clientId: string, type: string, data: unknown): Promise<number>
  /** To every socket of every instance; resolves with the number of instances subscribed in Redis. */
  broadcast (type: string, data: unknown): Promise<number>
  /** Closes the Redis client if this publisher opened it from a URL. */
  close (): Promise<void>
}

/** `createPublisher({ redis, channels })`: notify() and sendTo() for a process without Fastify. */
export function createPublisher (options: ExternalPublisherOptions): ExternalPublisher {
  const redisConfig = readRedisOptions(options, 'createPublisher')
  const { channels, history, maxMessageSize } = options
  const config = buildConfig({ channels, authorize: noSubscribers, ...(history !== undefined && { history }), ...(maxMessageSize !== undefined && { maxMessageSize }) })
  const owned = typeof redisConfig.redis === 'string'
  const client: Redis = typeof redisConfig.redis === 'string' ? openRedis(redisConfig.redis) : redisConfig.redis
  const counters = new Counters()
  const onError = (): void => { counters.brokerErrors++ }
  client.on('error', onError)
  const layout = new RedisLayout(redisConfig.keyPrefix, config.channels)
  const target = describeRedis(redisConfig.redis)
  const id = `x${randomBytes(6).toString('base64url')}`
  let sequence = 0
  let closed = false
  // Knows which channels keep history (their offsets are taken in Redis); it reads none.
  const kept = new MirroredHistory(config.channels)
  // A publisher reads no inbox (it has no sockets): the client stands in for the subscription.
  const inboxConfig = readInbox(options.inbox, true)
  const inbox = inboxConfig === null ? null : new RedisInbox(client, client, redisConfig.keyPrefix, layout.directChannel, inboxConfig, runScript)

  // The plugin's seam (adapter.ts), publishing only: `delivered` counts the instances Redis reached.
  const adapter: Adapter = {
    history: kept,
    inbox,
    async publish (route: Route, envelope: string): Promise<Published> {
      // Connecting (first use, or between reconnect attempts): wait, within publishTimeout.
      if (client.status === 'wait' || client.status === 'connecting' || client.status === 'connect') {
        await whenReady(client, redisConfig.publishTimeout).catch(() => {})
      }
      // Not ready, or its socket ending: the command would not be written, certainly not sent.
      if (client.status !== 'ready' || client.stream?.writable === false) {
        counters.brokerErrors++
        throw new FST_WS_NOTIFY_BROKER_UNAVAILABLE(`connection ${client.status === 'ready' ? 'closing' : client.status}`)
      }
      // Written but not confirmed in time: Redis may still publish it (BROKER_TIMEOUT, outcome unknown).
      let timer: NodeJS.Timeout | undefined
      const expired = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new FST_WS_NOTIFY_BROKER_TIMEOUT(`no answer from ${target} within ${redisConfig.publishTimeout} ms`)),
          redisConfig.publishTimeout)
      })
      try {
        const tag = `${id}:${++sequence}`
        const sent = route.kind === 'client' && inbox !== null ? inbox.send(client, route.clientId, envelope, tag) : layout.send(client, route, envelope, tag)
        return { delivered: await Promise.race([sent, expired]) }
      } catch (err) {
        const failure = publishFailure(err)
        if (String((failure as { code?: unknown }).code).startsWith('FST_WS_NOTIFY_BROKER_')) counters.brokerErrors++
        throw failure
      } finally {
        clearTimeout(timer)
      }
    },
    async close () {}
  }

  const { notify, sendTo, broadcast } = createCorePublisher({
    registry: new ChannelRegistry(config.channels),
    adapter,
    counters,
    maxMessageSize: config.maxMessageSize,
    isClosing: () => closed
  })

  return {
    notify,
    sendTo,
    broadcast,
    async close () {
      if (closed) return
      closed = true
      if (owned) client.disconnect()
      else client.off('error', onError)
    }
  }
}
