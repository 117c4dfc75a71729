// The seam between notify() and local delivery. An adapter carries each serialized message to
// every instance (itself included) and delivers it to the local hub. The in-memory adapter
// below is the default: one process, delivery in the same tick. A broker adapter (Redis)
// implements the same interface in its own file.
import type { Hub } from './hub'
import { encodeMessage } from './sender'

/** Where a message goes: a channel's subscribers, or every socket of one client id. */
export type Route =
  | { readonly kind: 'channel', readonly channel: string }
  | { readonly kind: 'client', readonly clientId: string }

export interface Adapter {
  /**
   * Delivers one serialized envelope along its route on every instance; resolves with the
   * number of sockets written on this instance.
   */
  publish (route: Route, json: string): Promise<number>
  /** Releases what the adapter opened; called once, when Fastify closes. */
  close (): Promise<void>
}

/** Delivers a JSON envelope to the matching sockets of this instance: encoded once, then fanned out. */
export function deliverLocally (hub: Hub, route: Route, json: string): number {
  const message = encodeMessage(json)
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
