// Every option's default, in one place: options.ts and the readers it calls (presence-options.ts,
// inbox.ts, rate limit, limits) and redisAdapter() fill a missing option from here, and
// docs/options.md and docs/scaling.md state these values (test/defaults.test.ts compares them).

/** Freezes an object and every object in it. */
function deepFreeze<T extends object> (value: T): T {
  for (const child of Object.values(value)) if (typeof child === 'object' && child !== null) deepFreeze(child)
  return Object.freeze(value)
}

export const DEFAULTS = deepFreeze({
  // The plugin's options, by name, as docs/options.md's table gives them.
  path: '/ws',
  stats: true,
  heartbeatInterval: 30_000,
  idleTimeout: 300_000,
  maxPayload: 64 * 1024,
  maxMessageSize: 1024 * 1024,
  closeTimeout: 2_000,
  maxBufferedBytes: 1024 * 1024,
  slowConsumer: 'close',
  presence: { grace: 2_000, maxMembers: 100_000, maxListed: 1_000 },
  allowedOrigins: [],
  allowedHosts: [],
  maxConnections: 20_000,
  maxConnectionsPerClient: 32,
  maxSubscriptionsPerConnection: 128,
  rateLimit: { perSecond: 20, burst: 40 },
  flushInterval: 0,
  nativeWrites: true,
  sse: false,
  dashboard: false,
  metrics: false,
  /** On unless `stats` is false (options.ts). */
  asyncapi: true,
  // Options that are off by default: the defaults of their keys once given.
  /** `history: { size }` (size has none): no ttl; on a namespace, channels keeping one at once. */
  history: { ttl: 0, channels: 10_000 },
  /** `inbox: {}`: per client id, for a day; client ids kept in memory. */
  inbox: { size: 100, ttl: 24 * 3600_000, clients: 10_000 },
  // A channel declaration's keys.
  channel: { latest: false, presence: false, joinLeave: false, delivery: 'all' },
  /** redisAdapter() and createPublisher(); connectTimeout is capped by half of Fastify's pluginTimeout. */
  redis: { keyPrefix: 'fastify-ws-notify:', publishTimeout: 5_000, connectTimeout: 5_000, statsInterval: 5_000, statsTimeout: 500 }
} as const)
