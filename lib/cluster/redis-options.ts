// The Redis adapter's options, shared with createPublisher (external-publisher.ts): checked at
// the call, with errors naming the option, then filled into a frozen config.
import type { Redis } from 'ioredis'
import type { RedisAdapterOptions as PublicRedisAdapterOptions } from '../../types/index'
import { describe, fail } from '../config/invalid-option'
import { DEFAULTS } from '../core/defaults'

/** The client given by the user (an ioredis `Redis`, such as `fastify.redis`) or a redis:// URL. */
export type RedisSource = Redis | string

/** The public options (types/index.d.ts), with the ioredis client type lib works with. */
export interface RedisAdapterOptions extends Omit<PublicRedisAdapterOptions, 'redis'> {
  /** An ioredis client (never closed by the adapter) or a URL (the adapter opens and closes it). */
  redis: RedisSource
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
