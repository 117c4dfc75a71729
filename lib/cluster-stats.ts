// Figures of the whole cluster for `GET ${path}/stats?scope=cluster`. Each instance writes its
// own snapshot to Redis every `statsInterval` with an expiry of three intervals, and lists itself
// in a sorted set scored by that expiry; a reader sums the snapshots of the instances still live.
// An instance that stops (or crashes) drops out within three intervals; one that closes, at once.
import { Type, type Static } from '@sinclair/typebox'
import type { Redis } from 'ioredis'
import { StatsSchema, type StatsSnapshot } from './stats'

/** The sums over live instances (channel figures merged; history_messages is the largest copy). */
export const ClusterStatsSchema = Type.Object({
  instances: Type.Integer({ description: 'instances that reported within three intervals' }),
  total_clients: Type.Integer(),
  total_channels: Type.Integer({ description: 'channels with at least one subscriber on some instance' }),
  total_messages_sent: Type.Integer(),
  total_connections_ever: Type.Integer(),
  channel_stats: Type.Record(Type.String(), Type.Integer()),
  active_channels: Type.Array(Type.String()),
  notifications_published: Type.Integer(),
  bytes_sent: Type.Integer(),
  messages_dropped: Type.Integer(),
  slow_consumers_closed: Type.Integer(),
  broker_errors: Type.Integer(),
  history_messages: Type.Integer({ description: 'messages held in history (each instance holds a copy: the largest)' })
})
export type ClusterStats = Static<typeof ClusterStatsSchema>

/** The stats route's response: this instance's figures, and `cluster` when asked for. */
export const StatsResponseSchema = Type.Composite([
  StatsSchema,
  Type.Object({ cluster: Type.Optional(ClusterStatsSchema) })
])

const SUMMED = [
  'total_clients', 'total_messages_sent', 'total_connections_ever', 'notifications_published',
  'bytes_sent', 'messages_dropped', 'slow_consumers_closed', 'broker_errors'
] as const

/** Sums snapshots of several instances into one. */
export function sumStats (snapshots: readonly StatsSnapshot[]): ClusterStats {
  const channelStats: Record<string, number> = Object.create(null)
  const result: ClusterStats = {
    instances: snapshots.length,
    total_clients: 0,
    total_channels: 0,
    total_messages_sent: 0,
    total_connections_ever: 0,
    channel_stats: channelStats,
    active_channels: [],
    notifications_published: 0,
    bytes_sent: 0,
    messages_dropped: 0,
    slow_consumers_closed: 0,
    broker_errors: 0,
    history_messages: 0
  }
  for (const snapshot of snapshots) {
    for (const key of SUMMED) result[key] += snapshot[key] ?? 0
    result.history_messages = Math.max(result.history_messages, snapshot.history_messages ?? 0)
    for (const [channel, count] of Object.entries(snapshot.channel_stats ?? {})) {
      channelStats[channel] = (channelStats[channel] ?? 0) + count
    }
  }
  result.active_channels = Object.keys(channelStats)
  result.total_channels = result.active_channels.length
  return result
}

/** Reports this instance's snapshot to Redis on a timer, and reads the cluster's. */
export class ClusterStatsReporter {
  readonly #redis: Redis
  readonly #setKey: string
  readonly #ownKey: string
  readonly #prefix: string
  readonly #id: string
  readonly #interval: number
  readonly #snapshot: () => StatsSnapshot
  #timer: NodeJS.Timeout | undefined

  constructor (redis: Redis, prefix: string, instanceId: string, interval: number, snapshot: () => StatsSnapshot) {
    this.#redis = redis
    this.#prefix = prefix
    this.#setKey = `${prefix}instances`
    this.#ownKey = `${prefix}stats:${instanceId}`
    this.#id = instanceId
    this.#interval = interval
    this.#snapshot = snapshot
  }

  start (): void {
    this.#timer = setInterval(() => { this.report().catch(() => {}) }, this.#interval)
    this.#timer.unref()
  }

  /** Writes this instance's figures now; they expire after three intervals. */
  async report (): Promise<void> {
    if (this.#redis.status !== 'ready') return
    const ttl = this.#interval * 3
    await this.#redis.multi()
      .set(this.#ownKey, JSON.stringify(this.#snapshot()), 'PX', ttl)
      .zadd(this.#setKey, Date.now() + ttl, this.#id)
      .exec()
  }

  /** The sums over every instance whose figures have not expired, this one's written just now. */
  async read (): Promise<ClusterStats> {
    await this.report()
    await this.#redis.zremrangebyscore(this.#setKey, '-inf', Date.now())
    const ids = await this.#redis.zrange(this.#setKey, '0', '-1')
    const values = ids.length === 0 ? [] : await this.#redis.mget(ids.map((id) => `${this.#prefix}stats:${id}`))
    const snapshots: StatsSnapshot[] = []
    for (const value of values) if (value !== null) snapshots.push(JSON.parse(value) as StatsSnapshot)
    return sumStats(snapshots)
  }

  /** Stops reporting and removes this instance's figures (when Redis can be reached). */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    if (this.#redis.status !== 'ready') return
    await this.#redis.multi().del(this.#ownKey).zrem(this.#setKey, this.#id).exec().catch(() => {})
  }
}
