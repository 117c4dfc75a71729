// Presence on this instance: per presence channel, which client ids have sockets on it (several
// tabs of one client id are one member), with counters kept as sockets come and go so that
// presence_stats costs O(1). A member whose last socket leaves stays for `grace` milliseconds (one
// unref'd timer per member in grace), so a reconnect within it is no leave and no join. What a
// member's arrival and departure mean (a local join/leave frame, or a write to Redis) is the
// sink's business: memorySink below, or redis-presence.ts.
import type { Identity, PresenceCounts, PresenceList, PresenceMember } from '../../types/index'
import type { PresenceConfig } from './config-types'

export type { PresenceMember, PresenceList, PresenceCounts }

/** Where presence is answered from: this instance's tracker, or Redis for the whole cluster. */
export interface PresenceSource {
  list (channel: string): Promise<PresenceList>
  counts (channel: string): Promise<PresenceCounts>
}

/** What a member's first arrival and last departure (after grace) on a channel cause. */
export interface PresenceSink {
  joined (channel: string, clientId: string, info: unknown): void
  left (channel: string, clientId: string): void
  /** The number of this instance's sockets on the channel changed (for cluster-wide counts). */
  socketsChanged? (channel: string, sockets: number): void
}

/** What the tracker needs of a socket: its client id and what `authenticate` said it is. */
export interface MemberSocket {
  readonly clientId: string
  readonly identity?: Identity
}

interface Member {
  sockets: number
  readonly info: unknown
  /** Set while the member has no socket left and waits out the grace. */
  leaving: NodeJS.Timeout | null
}

class ChannelMembers {
  readonly members = new Map<string, Member>()
  sockets = 0
}

export class PresenceTracker {
  readonly #config: PresenceConfig
  readonly #withIdentity: boolean
  readonly #channels = new Map<string, ChannelMembers>()
  sink: PresenceSink

  /** `withIdentity`: `authenticate` is set, so an identity is the app's, and `info` may read it. */
  constructor (config: PresenceConfig, withIdentity: boolean, sink: PresenceSink) {
    this.#config = config
    this.#withIdentity = withIdentity
    this.sink = sink
  }

  /** Whether a new member would pass presence.maxMembers on this channel (a member already in never is). */
  full (channel: string, clientId: string): boolean {
    const entry = this.#channels.get(channel)
    return entry !== undefined && entry.members.size >= this.#config.maxMembers && !entry.members.has(clientId)
  }

  /** A socket joined a presence channel. */
  add (socket: MemberSocket, channel: string): void {
    let entry = this.#channels.get(channel)
    if (entry === undefined) {
      entry = new ChannelMembers()
      this.#channels.set(channel, entry)
    }
    entry.sockets++
    const member = entry.members.get(socket.clientId)
    if (member !== undefined) {
      member.sockets++
      if (member.leaving !== null) {
        clearTimeout(member.leaving)
        member.leaving = null
      }
    } else {
      const info = this.#infoOf(socket)
      entry.members.set(socket.clientId, { sockets: 1, info, leaving: null })
      this.sink.joined(channel, socket.clientId, info)
    }
    this.sink.socketsChanged?.(channel, entry.sockets)
  }

  /** A socket left a presence channel (unsubscribe, close, error). */
  remove (socket: MemberSocket, channel: string): void {
    const entry = this.#channels.get(channel)
    const member = entry?.members.get(socket.clientId)
    if (entry === undefined || member === undefined) return
    entry.sockets--
    member.sockets--
    if (member.sockets === 0) {
      if (this.#config.grace === 0) {
        this.#depart(channel, socket.clientId)
      } else {
        member.leaving = setTimeout(() => this.#depart(channel, socket.clientId), this.#config.grace)
        member.leaving.unref()
      }
    }
    this.sink.socketsChanged?.(channel, entry.sockets)
  }

  #depart (channel: string, clientId: string): void {
    const entry = this.#channels.get(channel)
    const member = entry?.members.get(clientId)
    if (entry === undefined || member === undefined || member.sockets > 0) return
    entry.members.delete(clientId)
    if (entry.members.size === 0) this.#channels.delete(channel)
    this.sink.left(channel, clientId)
  }

  #infoOf (socket: MemberSocket): unknown {
    const { info } = this.#config
    if (info === null || !this.#withIdentity || socket.identity === undefined) return undefined
    return info(socket.identity)
  }

  /** Members of a channel on this instance, at most presence.maxListed of them. */
  list (channel: string): PresenceList {
    const entry = this.#channels.get(channel)
    if (entry === undefined) return { members: [], total: 0, truncated: false }
    const cap = this.#config.maxListed
    const members: PresenceMember[] = []
    for (const [client, { info }] of entry.members) {
      if (members.length === cap) break
      members.push(info === undefined ? { client } : { client, info })
    }
    return { members, total: entry.members.size, truncated: entry.members.size > cap }
  }

  counts (channel: string): PresenceCounts {
    const entry = this.#channels.get(channel)
    return { clients: entry?.sockets ?? 0, users: entry?.members.size ?? 0 }
  }

  /** Members per channel on this instance (channels with none are absent). */
  * entries (): IterableIterator<[channel: string, members: number]> {
    for (const [channel, entry] of this.#channels) yield [channel, entry.members.size]
  }

  /** Each member of each channel on this instance (a Redis heartbeat re-asserts them). */
  * members (): IterableIterator<[channel: string, clientId: string, info: unknown]> {
    for (const [channel, entry] of this.#channels) {
      for (const [clientId, member] of entry.members) yield [channel, clientId, member.info]
    }
  }

  /** Clears every grace timer; nothing is told to the sink (the registration is closing). */
  close (): void {
    for (const entry of this.#channels.values()) {
      for (const member of entry.members.values()) if (member.leaving !== null) clearTimeout(member.leaving)
    }
    this.#channels.clear()
  }
}

/** The local source: this instance's tracker is all there is. */
export function localSource (tracker: PresenceTracker): PresenceSource {
  return {
    async list (channel) { return tracker.list(channel) },
    async counts (channel) { return tracker.counts(channel) }
  }
}
