// The seam between notify() and local delivery. An adapter carries each serialized message to
// every instance (itself included) and delivers it to the local hub. The in-memory adapter
// below is the default: one process, delivery in the same tick. A broker adapter (Redis)
// implements the same interface in its own file.
import type { FastifyBaseLogger } from 'fastify'
import type { Hub } from './hub'
import type { HistoryStore } from './history'
import type { InboxStore } from './inbox'
import type { ChannelConfig, InboxConfig, PresenceConfig } from './config-types'
import type { ClusterStats } from './cluster-stats'
import { encodeMessage } from './sender'
import type { ClusterPresence } from './presence-service'

/** Where a message goes: a channel's subscribers, every socket of one client id, or every socket. */
export type Route =
  | { readonly kind: 'channel', readonly channel: string }
  | { readonly kind: 'client', readonly clientId: string }
  | { readonly kind: 'all' }

export interface Adapter {
  /**
   * Delivers one serialized envelope along its route on every instance; resolves with the
   * number of sockets written on this instance.
   */
  publish (route: Route, json: string): Promise<number>
  /** Releases what the adapter opened; called once, when Fastify closes. */
  close (): Promise<void>
  /**
   * Present when the adapter assigns the offsets of history channels itself (cluster-wide): the
   * publisher then serializes such a message with `"offset":0` as its last member, and the
   * adapter puts the real offset in place of that 0. Resume and `latest` read this store.
   */
  readonly history?: HistoryStore
  /** Present when the adapter keeps inboxes itself (Redis Streams, offsets cluster-wide): see inbox.ts. */
  readonly inbox?: InboxStore
  /** Resolves once the adapter can deliver (connected, subscribed, history loaded). */
  ready? (): Promise<void>
  /** The summed figures of every live instance, for `GET ${path}/stats?scope=cluster`. */
  clusterStats? (): Promise<ClusterStats>
  /** Cluster-wide presence (redis-presence.ts); absent: presence is this instance's. */
  readonly presence?: ClusterPresence
}

/** What a broker adapter gets from the registration it serves. */
export interface AdapterContext {
  readonly hub: Hub
  readonly channels: ReadonlyMap<string, ChannelConfig>
  readonly log: FastifyBaseLogger
  /** Fastify's pluginTimeout (0: none): a broker adapter connects within less at start. */
  readonly pluginTimeout?: number
  /** The presence bounds, for an adapter that keeps presence cluster-wide. */
  readonly presence?: PresenceConfig
  /** The inbox bounds, for an adapter that keeps inboxes itself; null without `inbox`. */
  readonly inbox?: InboxConfig | null
}

/** The `adapter` option: builds the adapter of one registration (see redis-adapter.ts). */
export interface AdapterFactory {
  readonly name: string
  /** false: its namespace channels (`user:42`) keep no history (registration refuses one). */
  readonly namespaceHistory?: boolean
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

/** The default adapter: this process only. */
export function memoryAdapter (hub: Hub): Adapter {
  return {
    async publish (route, json) {
      return deliverLocally(hub, route, json)
    },
    async close () {}
  }
}
