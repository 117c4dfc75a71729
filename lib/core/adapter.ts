// The seam between notify() and local delivery. An adapter carries each serialized message to
// every instance (itself included) and delivers it on each; it owns the history store and, with
// `inbox`, the inbox store, so it alone assigns offsets: one place, as centrifuge's brokers do.
// The in-memory adapter below is the default: one process, delivery in the same tick. A broker
// adapter (Redis) implements the same interface in its own file. An adapter sees the registration
// only through AdapterContext, never the hub itself.
import type { FastifyBaseLogger } from 'fastify'
import type { Hub } from './hub'
import { MemoryHistory, type HistoryPosition, type HistoryStore } from './history'
import { MemoryInbox, type InboxStore } from './inbox'
import type { ChannelDeclarations, InboxConfig, PresenceConfig } from './config-types'
import type { ClusterStats } from './cluster-stats'
import { encodeMessage } from './sender'
import type { ClusterPresence } from './presence-service'
import type { StatsSnapshot } from './stats'

/** Where a message goes: a channel's subscribers, every socket of one client id, or every socket. */
export type Route =
  | { readonly kind: 'channel', readonly channel: string }
  | { readonly kind: 'client', readonly clientId: string }
  | { readonly kind: 'all' }

/** What a publish did: sockets written on this instance and, when it got an offset, where it stands. */
export interface Published {
  readonly delivered: number
  /** The message's epoch and offset (a history channel, an inbox); absent otherwise or unknown. */
  readonly position?: HistoryPosition
}

export interface Adapter {
  /**
   * Delivers one envelope along its route on every instance. `envelope` is serialized once, by
   * the publisher, without `offset`: on a history channel (`history.has`) or to an inbox the
   * adapter assigns the offset, appends it (history.ts, withOffset) and keeps the message.
   */
  publish (route: Route, envelope: string): Promise<Published>
  /** Releases what the adapter opened; called once, when Fastify closes. */
  close (): Promise<void>
  /** Every channel's history, as this instance reads it for resume and `latest`. */
  readonly history: HistoryStore
  /** The inboxes of direct messages; null without the `inbox` option. */
  readonly inbox: InboxStore | null
  /** Resolves once the adapter can deliver (connected, subscribed, history loaded). */
  ready? (): Promise<void>
  /** The summed figures of every live instance, for `GET ${path}/stats?scope=cluster`. */
  clusterStats? (): Promise<ClusterStats>
  /** Cluster-wide presence (redis-presence.ts); absent: presence is this instance's. */
  readonly presence?: ClusterPresence
}

/** The settings of the registration an adapter reads. */
export interface AdapterSettings {
  readonly channels: ChannelDeclarations
  readonly log: FastifyBaseLogger
  /** Fastify's pluginTimeout (0: none): a broker adapter connects within less at start. */
  readonly pluginTimeout?: number
  /** The presence bounds, for an adapter that keeps presence cluster-wide. */
  readonly presence?: PresenceConfig
  /** The inbox bounds; null without `inbox`. */
  readonly inbox: InboxConfig | null
}

/** What an adapter gets from the registration it serves: what it must do here, not the hub. */
export interface AdapterContext extends AdapterSettings {
  /** Delivers a JSON envelope along its route to this instance's sockets; returns how many were written. */
  deliver (route: Route, json: string): number
  /** Whether some socket of this instance is subscribed to the channel. */
  hasSubscribers (channel: string): boolean
  /** Takes this instance's subscribers of a channel out and closes them (a history reset); returns how many. */
  evict (channel: string, code: number, reason: string): number
  /** Counts one broker error (`broker_errors`). */
  brokerError (): void
  /** This instance's stats snapshot (reported to the cluster). */
  stats (): StatsSnapshot
}

/** The `adapter` option: builds the adapter of one registration (see redis-adapter.ts). */
export interface AdapterFactory {
  readonly name: string
  create (context: AdapterContext): Adapter
}

/** Delivers a JSON envelope to the matching sockets of this instance: encoded once, then fanned out. */
export function deliverLocally (hub: Hub, route: Route, json: string): number {
  const message = encodeMessage(json)
  if (route.kind === 'all') return hub.deliverToAll(message)
  return route.kind === 'channel'
    ? hub.deliverToChannel(route.channel, message)
    : hub.deliverToClient(route.clientId, message)
}

/** The AdapterContext of a registration: its hub behind the few operations an adapter needs. */
export function adapterContext (hub: Hub, settings: AdapterSettings): AdapterContext {
  return {
    ...settings,
    deliver: (route, json) => deliverLocally(hub, route, json),
    hasSubscribers: (channel) => hub.subscribers.has(channel),
    evict: (channel, code, reason) => hub.removeAndClose(hub.subscribers.get(channel), code, reason),
    brokerError: () => { hub.counters.brokerErrors++ },
    stats: () => hub.stats()
  }
}

/**
 * The default adapter: this process only. A message's offset is taken, the message kept and
 * delivered in one synchronous step (see history.ts, subscribeWithHistory).
 */
export function memoryAdapter (context: AdapterContext): Adapter {
  const history = new MemoryHistory(context.channels)
  const inbox = context.inbox === null ? null : new MemoryInbox(context.inbox)
  return {
    history,
    inbox,
    async publish (route, envelope) {
      if (route.kind === 'channel' && history.has(route.channel)) {
        const { json, position } = history.append(route.channel, envelope)
        return { delivered: context.deliver(route, json), position }
      }
      if (route.kind === 'client' && inbox !== null) {
        const { json, position } = inbox.append(route.clientId, envelope)
        return { delivered: context.deliver(route, json), position }
      }
      return { delivered: context.deliver(route, envelope) }
    },
    async close () {}
  }
}
