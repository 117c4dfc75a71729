// Prometheus metrics at `${path}/metrics` (option `metrics`): the figures of the stats route, read
// at scrape time, plus two histograms fed once per fan-out by the hub's observer (duration of the
// loop, bytes of the message). prom-client is loaded only here, only when `metrics` is on.
// Labels are bounded: `channel` is a declared name (a namespace pattern such as `user:*` counts as
// one), never a concrete private channel and never a client id.
import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import type { Config } from '../core/config-types'
import type { Hub } from '../core/hub'
import type { ChannelRegistry } from '../core/channels'
import type { PresenceService } from '../core/presence-service'
import { declaredNameOf } from '../core/stats'
import { FST_WS_NOTIFY_INVALID_OPTION } from '../core/errors'
import { sideRouteUrl, statsHooks } from './side-routes'

export const METRIC_PREFIX = 'ws_notify_'

// Fan-out of one message over an event loop that is not blocked: microseconds to a few ms.
const DURATION_BUCKETS = [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1]
// Envelope sizes, 64 B to the default maxMessageSize (1 MiB).
const BYTES_BUCKETS = [64, 128, 256, 512, 1024, 4096, 16384, 65536, 262144, 1048576]

export interface MetricsContext {
  readonly config: Config
  readonly hub: Hub
  readonly registry: ChannelRegistry
  readonly presence?: PresenceService | null
}

/** Registers the metrics and the route; does nothing when `metrics` is off. */
export async function registerMetrics (fastify: FastifyInstance, context: MetricsContext): Promise<void> {
  const { config, hub } = context
  if (config.metrics === false) return
  const prom = await import('prom-client')
  // Never prom-client's global registry: two apps in one process must not collide.
  const own = config.metrics.registry === null
  const target: Registry = own ? new prom.Registry() : config.metrics.registry as Registry
  // The names stats list channels under: a namespace pattern, never a concrete private channel.
  const labelOf = declaredNameOf(context.registry)
  const counters = hub.counters
  const names: string[] = []
  const name = (suffix: string): string => {
    names.push(METRIC_PREFIX + suffix)
    return METRIC_PREFIX + suffix
  }

  /** A counter whose value is read from the hub at scrape time: nothing is counted twice. */
  const counter = (suffix: string, help: string, read: () => number): void => {
    // eslint-disable-next-line no-new
    new prom.Counter({
      name: name(suffix),
      help,
      registers: [target],
      collect () { this.reset(); this.inc(read()) }
    })
  }
  const gauge = (suffix: string, help: string, read: () => number): void => {
    // eslint-disable-next-line no-new
    new prom.Gauge({ name: name(suffix), help, registers: [target], collect () { this.set(read()) } })
  }

  // Checked in one pass before anything is registered, so a refusal leaves the registry as it was.
  const all = ['connections', 'connections_by_transport', 'channels_active', 'subscribers', 'history_messages', 'uptime_seconds', 'connections_total',
    'messages_sent_total', 'bytes_sent_total', 'notifications_published_total', 'messages_dropped_total',
    'slow_consumers_closed_total', 'messages_conflated_total', 'protocol_errors_total', 'fanout_duration_seconds', 'message_bytes', 'presence_members']
  for (const suffix of all) {
    if (target.getSingleMetric(METRIC_PREFIX + suffix) !== undefined) {
      throw new FST_WS_NOTIFY_INVALID_OPTION(`metrics.registry already holds "${METRIC_PREFIX + suffix}" (another registration?); give each registration its own registry`)
    }
  }

  gauge('connections', 'Sockets open now (stats: total_clients)', () => hub.connections.size)
  // eslint-disable-next-line no-new
  new prom.Gauge({
    name: name('connections_by_transport'),
    help: 'Sockets open now by transport: websocket or sse (stats: websocket_clients, sse_clients)',
    labelNames: ['transport'],
    registers: [target],
    collect () {
      this.set({ transport: 'websocket' }, hub.connections.size - hub.sseConnections)
      this.set({ transport: 'sse' }, hub.sseConnections)
    }
  })
  gauge('channels_active', 'Channels with at least one subscriber now (stats: total_channels)', () => hub.stats().total_channels)
  gauge('history_messages', 'Messages held in all channels\' history (stats: history_messages)', () => hub.stats().history_messages)
  gauge('uptime_seconds', 'Seconds since registration (stats: uptime_seconds)', () => (Date.now() - counters.startedAt) / 1000)
  // eslint-disable-next-line no-new
  new prom.Gauge({
    name: name('subscribers'),
    help: 'Subscribers per declared channel; a namespace pattern (user:*) sums its channels (stats: channel_stats)',
    labelNames: ['channel'],
    registers: [target],
    collect () {
      this.reset()
      for (const declared of context.registry.names) this.set({ channel: declared }, 0)
      for (const [channel, set] of hub.subscribers) this.inc({ channel: labelOf(channel) }, set.size)
    }
  })
  const { presence } = context
  if (presence !== null && presence !== undefined) {
    // eslint-disable-next-line no-new
    new prom.Gauge({
      name: name('presence_members'),
      help: 'Members (distinct client ids) of presence channels on this instance, per declared channel or namespace (user:*)',
      labelNames: ['namespace'],
      registers: [target],
      collect () {
        this.reset()
        for (const [declared, config] of presence.channels()) if (config.presence) this.set({ namespace: declared }, 0)
        for (const [declared, members] of presence.membersByDeclaration()) this.set({ namespace: declared }, members)
      }
    })
  }
  counter('connections_total', 'Sockets accepted since start (stats: total_connections_ever)', () => counters.connectionsEver)
  counter('messages_sent_total', 'Messages written to sockets; one notification to 3 subscribers counts 3 (stats: total_messages_sent)', () => counters.messagesSent)
  counter('bytes_sent_total', 'Bytes of messages written to sockets (stats: bytes_sent)', () => counters.bytesSent)
  counter('notifications_published_total', 'notify() and sendTo() calls sent (stats: notifications_published)', () => counters.notificationsPublished)
  counter('messages_dropped_total', 'Messages not written to a subscriber (stats: messages_dropped)', () => counters.messagesDropped)
  counter('messages_conflated_total', 'Messages of delivery: latest channels replaced by a newer one before a behind subscriber got them (stats: messages_conflated)', () => counters.messagesConflated)
  counter('slow_consumers_closed_total', 'Sockets closed with 1013 for reading too slowly (stats: slow_consumers_closed)', () => counters.slowConsumersClosed)
  counter('protocol_errors_total', 'Sockets closed for breaking the WebSocket protocol (stats: protocol_errors)', () => counters.protocolErrors)

  const duration = new prom.Histogram({
    name: name('fanout_duration_seconds'),
    help: 'Time of the loop writing one message to its subscribers on this instance, per notification (kind="channel") or direct message (kind="direct")',
    labelNames: ['kind', 'channel'],
    buckets: DURATION_BUCKETS,
    registers: [target]
  })
  const bytes = new prom.Histogram({
    name: name('message_bytes'),
    help: 'Size of each message fanned out on this instance, in bytes',
    labelNames: ['kind', 'channel'],
    buckets: BYTES_BUCKETS,
    registers: [target]
  })
  const direct = { kind: 'direct' }
  hub.observer = (channel, size, milliseconds) => {
    const labels = channel === null ? direct : { kind: 'channel', channel: labelOf(channel) }
    duration.observe(labels, milliseconds / 1000)
    bytes.observe(labels, size)
  }

  fastify.addHook('onClose', async () => {
    hub.observer = null
    // The user's registry outlives this app: take our metrics out so a new registration fits.
    for (const metric of names) target.removeSingleMetric(metric)
  })

  fastify.get(sideRouteUrl(config.path, 'metrics'), { ...statsHooks(config) }, async (_request, reply) => {
    const text = await target.metrics()
    return await reply.type(target.contentType).header('cache-control', 'no-store').send(text)
  })
}
