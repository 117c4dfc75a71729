// Presence of one registration: which channels opted in (`presence`, `joinLeave`), the tracker
// the hub tells of every socket joining or leaving such a channel, where presence is read from
// (this instance, or Redis for the cluster), and the join/leave frames. Channels that did not opt
// in never reach the tracker: the hub's membership observer returns at the first check.
import type { ChannelRegistry } from './channels'
import type { ChannelConfig, PresenceConfig } from './config-types'
import type { Connection, Hub, MembershipObserver } from './hub'
import { encodeMessage } from './sender'
import { PresenceTracker, localSource, type PresenceSink, type PresenceSource } from './presence'

/** The join/leave frame of one member: serialized once, fanned out to the channel's subscribers. */
export function joinLeaveFrame (type: 'join' | 'leave', channel: string, client: string, info: unknown): string {
  return JSON.stringify(info === undefined
    ? { type, channel, client, timestamp: new Date().toISOString() }
    : { type, channel, client, info, timestamp: new Date().toISOString() })
}

/** What a broker adapter brings for cluster-wide presence (see redis-presence.ts). */
export interface ClusterPresence extends PresenceSink, PresenceSource {
  /** Called once the tracker exists: the adapter re-asserts its members from it after an outage. */
  attach (tracker: PresenceTracker): void
}

export class PresenceService implements MembershipObserver {
  readonly tracker: PresenceTracker
  readonly source: PresenceSource
  readonly #registry: ChannelRegistry
  readonly #channels: ReadonlyMap<string, ChannelConfig>

  constructor (hub: Hub, registry: ChannelRegistry, channels: ReadonlyMap<string, ChannelConfig>, config: PresenceConfig,
    withIdentity: boolean, cluster: ClusterPresence | undefined) {
    this.#registry = registry
    this.#channels = channels
    const local: PresenceSink = {
      joined: (channel, client, info) => this.#announce(hub, 'join', channel, client, info),
      left: (channel, client) => this.#announce(hub, 'leave', channel, client, undefined)
    }
    this.tracker = new PresenceTracker(config, withIdentity, cluster ?? local)
    cluster?.attach(this.tracker)
    this.source = cluster ?? localSource(this.tracker)
  }

  /** The declaration of a channel if it opted in to presence; undefined otherwise (or undeclared). */
  declarationOf (channel: string): ChannelConfig | undefined {
    const declared = this.#registry.declarationOf(channel)
    const config = declared === undefined ? undefined : this.#channels.get(declared)
    return config?.presence === true ? config : undefined
  }

  // A socket's `identity` (connection.ts's Session) is read by the tracker for presence.info.
  joined (connection: Connection, channel: string): void {
    if (this.declarationOf(channel) !== undefined) this.tracker.add(connection, channel)
  }

  left (connection: Connection, channel: string): void {
    if (this.declarationOf(channel) !== undefined) this.tracker.remove(connection, channel)
  }

  /**
   * A local join/leave on a joinLeave channel, delivered after the current step: never inside a
   * fan-out loop or a subscribe that is still writing its reply.
   */
  #announce (hub: Hub, type: 'join' | 'leave', channel: string, client: string, info: unknown): void {
    if (this.declarationOf(channel)?.joinLeave !== true) return
    const message = encodeMessage(joinLeaveFrame(type, channel, client, info))
    queueMicrotask(() => { hub.deliverToChannel(channel, message) })
  }

  /** Every declared channel with its declaration. */
  channels (): ReadonlyMap<string, ChannelConfig> {
    return this.#channels
  }

  /** Members per declared channel or namespace (`user:*`) on this instance, for metrics and stats. */
  membersByDeclaration (): Map<string, number> {
    const result = new Map<string, number>()
    for (const [channel, members] of this.tracker.entries()) {
      const declared = this.#registry.declarationOf(channel) ?? channel
      result.set(declared, (result.get(declared) ?? 0) + members)
    }
    return result
  }

  close (): void {
    this.tracker.close()
  }
}
