// This instance's copy of the cluster-wide history kept in Redis. Offsets and epochs are assigned
// in Redis (redis-scripts.ts); the adapter feeds each message here, in offset order, in the same
// synchronous step that delivers it, so resume and `latest` answer synchronously from memory
// exactly as with the in-memory store (history.ts, whose logs and read side this reuses), with
// the cluster's offsets.
//
// A namespace with history (`user:*`) has a Stream per concrete channel in Redis; its copy here is
// made when a socket of this instance first subscribes to the channel (the adapter reads the
// Stream first: `load`), and at most `history.channels` copies are held per namespace: past it, the
// least recently used one without subscribers here is dropped (its Stream stays in Redis, so a
// later subscribe reads it again: nothing is lost, unlike the in-memory store).
import type { ChannelDeclarations, HistoryConfig } from '../core/config-types'
import { ChannelLog, LogHistory, heldIn } from '../core/history'
import { isChannelPattern } from '../core/declared-channels'

/** The copies of one namespace's channels, least recently used first (a Map keeps insertion order). */
interface NamespaceMirrors {
  readonly history: HistoryConfig
  readonly latest: boolean
  readonly mirrors: Map<string, ChannelLog>
}

/** What the Redis adapter does for namespace channels' copies. */
export interface MirrorFeeds {
  /** Whether a copy may not be dropped now (subscribers here, a read in flight). */
  inUse (channel: string): boolean
  /** A copy was dropped: its feed goes too. */
  dropped (channel: string): void
  /** Reads a namespace channel's Stream into a new copy (see HistoryStore.load). */
  load (channel: string): Promise<void> | undefined
}

/** The HistoryStore of an instance in a Redis cluster. */
export class MirroredHistory extends LogHistory {
  readonly #channels: ChannelDeclarations
  /** Namespace declaration (`user:*`) with history -> its channels' copies. */
  readonly #namespaces = new Map<string, NamespaceMirrors>()
  /** The adapter's side of namespace copies; null in createPublisher (it reads no history). */
  feeds: MirrorFeeds | null = null

  constructor (channels: ChannelDeclarations) {
    // No epoch until the first read from Redis: no `since` matches an empty epoch.
    super(channels, () => '')
    this.#channels = channels
    for (const { name, history, latest } of channels.values()) {
      if (isChannelPattern(name) && history !== null) this.#namespaces.set(name, { history, latest, mirrors: new Map() })
    }
  }

  /** The namespace a channel's history lives in: its most specific pattern, if that keeps history. */
  #namespaceOf (channel: string): NamespaceMirrors | undefined {
    if (this.#namespaces.size === 0) return undefined
    const declared = this.#channels.nameOf(channel)
    return declared === undefined ? undefined : this.#namespaces.get(declared)
  }

  override has (channel: string): boolean {
    return this.logs.has(channel) || this.#namespaceOf(channel) !== undefined
  }

  /** A namespace channel's copy, moved to the most recent end; undefined until loaded. */
  protected override logOf (channel: string): ChannelLog | undefined {
    const declared = this.logs.get(channel)
    if (declared !== undefined) return declared
    const mirrors = this.#namespaceOf(channel)?.mirrors
    const mirror = mirrors?.get(channel)
    if (mirrors === undefined || mirror === undefined) return undefined
    mirrors.delete(channel)
    mirrors.set(channel, mirror)
    return mirror
  }

  /** The channel's copy, for the adapter that feeds it (`append` with Redis's offsets, `reset`). */
  mirror (channel: string): ChannelLog | undefined {
    return this.logs.get(channel) ?? this.#namespaceOf(channel)?.mirrors.get(channel)
  }

  /**
   * Makes an empty copy of a namespace channel (the adapter fills it from the Stream), dropping
   * the least recently used one not in use when the namespace holds `history.channels` already.
   * Undefined when the channel's namespace keeps no history.
   */
  open (channel: string): ChannelLog | undefined {
    const namespace = this.#namespaceOf(channel)
    if (namespace === undefined) return undefined
    const { mirrors, history, latest } = namespace
    if (mirrors.size >= history.channels) {
      for (const name of mirrors.keys()) {
        if (this.feeds?.inUse(name) === true) continue
        mirrors.delete(name)
        this.feeds?.dropped(name)
        break
      }
    }
    const mirror = new ChannelLog(history.size, history.ttl, latest, '')
    mirrors.set(channel, mirror)
    return mirror
  }

  load (channel: string): Promise<void> | undefined {
    return this.feeds?.load(channel)
  }

  /** Drops a namespace channel's copy whose first read failed. */
  forget (channel: string): void {
    this.#namespaceOf(channel)?.mirrors.delete(channel)
  }

  override size (): number {
    let held = super.size()
    for (const { mirrors } of this.#namespaces.values()) held += heldIn(mirrors.values())
    return held
  }
}
