// Figures of the whole cluster for `GET ${path}/stats?scope=cluster`, asked at read time: the
// reader publishes a request on the prefix's `stats:ask` channel, every live instance answers with
// its figures of that moment on the reader's own `stats:reply:<id>` channel, and the reader sums
// what came back within `statsTimeout`. Which instances are live: each writes its snapshot to
// Redis every `statsInterval` with an expiry of three intervals, and lists itself in a sorted set
// scored by that expiry. A listed instance that does not answer in time is named in `unanswered`
// and counted from that last report (at most three intervals old). An instance that stops (or
// crashes) drops out within three intervals; one that closes, at once.
import { randomBytes } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import type { Redis } from 'ioredis'
import { StatsSchema, type StatsSnapshot } from './stats'

/**
 * The sums over live instances (channel figures merged; history_messages is the largest copy).
 * Checked against the public ClusterStats by types/test/conformance.
 */
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
  protocol_errors: Type.Integer(),
  websocket_clients: Type.Integer(),
  sse_clients: Type.Integer(),
  messages_conflated: Type.Integer(),
  history_messages: Type.Integer({ description: 'messages held in history (each instance holds a copy: the largest)' }),
  unanswered: Type.Array(Type.String(), {
    description: 'live instances (by id) that did not answer within statsTimeout: counted from their last report, at most three statsIntervals old'
  })
})
export type ClusterStats = Static<typeof ClusterStatsSchema>

/** The stats route's response: this instance's figures, and `cluster` when asked for. */
export const StatsResponseSchema = Type.Composite([
  StatsSchema,
  Type.Object({ cluster: Type.Optional(ClusterStatsSchema) })
])

const SUMMED = [
  'total_clients', 'total_messages_sent', 'total_connections_ever', 'notifications_published',
  'bytes_sent', 'messages_dropped', 'slow_consumers_closed', 'broker_errors',
  'protocol_errors', 'websocket_clients', 'sse_clients', 'messages_conflated'
] as const

/** Sums snapshots of several instances into one; `unanswered` names those given from their last report. */
export function sumStats (snapshots: readonly StatsSnapshot[], unanswered: string[] = []): ClusterStats {
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
    protocol_errors: 0,
    websocket_clients: 0,
    sse_clients: 0,
    messages_conflated: 0,
    history_messages: 0,
    unanswered
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

/** One read of the cluster's figures, waiting for the answers of the other instances. */
interface StatsRequest {
  readonly waiting: ReadonlySet<string>
  readonly answers: Map<string, StatsSnapshot>
  /** Instances that received the request (PUBLISH's count, the reader excluded), once known. */
  receivers: number
  done (): void
}

/** Reports this instance's snapshot to Redis on a timer, answers other instances' requests, and reads the cluster's. */
export class ClusterStatsReporter {
  /** Pub/sub channels this instance must be subscribed to: requests, and answers to its own. */
  readonly channels: readonly [ask: string, reply: string]
  readonly #redis: Redis
  readonly #setKey: string
  readonly #ownKey: string
  readonly #prefix: string
  readonly #id: string
  readonly #interval: number
  readonly #timeout: number
  readonly #snapshot: () => StatsSnapshot
  readonly #requests = new Map<string, StatsRequest>()
  #timer: NodeJS.Timeout | undefined

  constructor (redis: Redis, prefix: string, instanceId: string, interval: number, timeout: number, snapshot: () => StatsSnapshot) {
    this.#redis = redis
    this.#prefix = prefix
    this.#setKey = `${prefix}instances`
    this.#ownKey = `${prefix}stats:${instanceId}`
    this.#id = instanceId
    this.#interval = interval
    this.#timeout = timeout
    this.#snapshot = snapshot
    this.channels = [`${prefix}stats:ask`, `${prefix}stats:reply:${instanceId}`]
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

  /**
   * A message of the subscription on one of `channels`: a request (`REQUEST READER`), answered
   * with this instance's figures now, or an answer (`REQUEST INSTANCE\nJSON`) to a read of ours.
   */
  onMessage (pubsub: string, payload: string): void {
    if (pubsub === this.channels[0]) {
      const [request, reader] = payload.split(' ')
      if (reader === undefined || reader === this.#id || this.#redis.status !== 'ready') return
      this.#redis.publish(`${this.#prefix}stats:reply:${reader}`, `${request} ${this.#id}\n${JSON.stringify(this.#snapshot())}`)
        .catch(() => {})
    } else if (pubsub === this.channels[1]) {
      const newline = payload.indexOf('\n')
      const [request, instance] = payload.slice(0, newline).split(' ')
      const pending = this.#requests.get(request)
      if (pending === undefined || instance === undefined || newline === -1) return
      try {
        pending.answers.set(instance, JSON.parse(payload.slice(newline + 1)) as StatsSnapshot)
      } catch {
        return
      }
      this.#check(pending)
    }
  }

  /** Done once every listed instance answered, or as many as received the request. */
  #check (request: StatsRequest): void {
    const { answers, waiting } = request
    if (answers.size >= request.receivers || [...waiting].every((id) => answers.has(id))) request.done()
  }

  /**
   * The sums over every live instance: this one's figures now, the others' as they answer within
   * the timeout, and the last report of those that did not (named in `unanswered`).
   */
  async read (): Promise<ClusterStats> {
    await this.report()
    await this.#redis.zremrangebyscore(this.#setKey, '-inf', Date.now())
    const others = (await this.#redis.zrange(this.#setKey, '0', '-1')).filter((id) => id !== this.#id)
    const own = this.#snapshot()
    if (others.length === 0) return sumStats([own])
    const id = randomBytes(6).toString('base64url')
    const answers = new Map<string, StatsSnapshot>()
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#requests.delete(id)
        resolve()
      }
      const timer = setTimeout(done, this.#timeout)
      const request: StatsRequest = { waiting: new Set(others), answers, receivers: Infinity, done }
      this.#requests.set(id, request)
      this.#redis.publish(this.channels[0], `${id} ${this.#id}`).then((count) => {
        // Our own subscription received it too.
        request.receivers = count - 1
        this.#check(request)
      }, done)
    })
    const unanswered = others.filter((other) => !answers.has(other))
    const reports = unanswered.length === 0 ? [] : await this.#redis.mget(unanswered.map((other) => `${this.#prefix}stats:${other}`))
    const snapshots: StatsSnapshot[] = [own, ...answers.values()]
    for (const value of reports) if (value !== null) snapshots.push(JSON.parse(value) as StatsSnapshot)
    return sumStats(snapshots, unanswered)
  }

  /** Stops reporting and removes this instance's figures (when Redis can be reached). */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    for (const request of [...this.#requests.values()]) request.done()
    if (this.#redis.status !== 'ready') return
    await this.#redis.multi().del(this.#ownKey).zrem(this.#setKey, this.#id).exec().catch(() => {})
  }
}
