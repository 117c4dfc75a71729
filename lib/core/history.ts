// Channel history: each notification on a channel that keeps history gets the next offset of that
// channel and is kept, serialized, in a ring buffer bounded by `size` and `ttl`, so a client that
// reconnects can resume where it left off. Expired messages are evicted lazily, when a channel is
// appended to or read: no timers. Every adapter owns its HistoryStore (adapter.ts): the in-memory
// one below, or a broker adapter's, whose offsets are assigned cluster-wide (redis-history.ts).
// A namespace (`user:*`) with history gives each of its channels (`user:42`) a log of its own when
// first used, at most `history.channels` of them: the one used least recently is dropped first
// (in memory only).
import { randomBytes } from 'node:crypto'
import type { ChannelConfig, ChannelDeclarations, HistoryConfig } from './config-types'
import type { Connection, Hub } from './hub'
import type { RequestId } from './protocol'
import { encodeMessage } from './sender'
import { isChannelPattern } from './declared-channels'

/** Where a client left a channel: the last offset it saw, in which epoch. */
export interface ResumePosition {
  readonly offset: number
  readonly epoch: string
}

/** The position of a channel's history now: its epoch and its latest offset (0 before any). */
export interface HistoryPosition {
  readonly epoch: string
  readonly offset: number
}

/**
 * The read side of every channel's history, owned by the adapter (adapter.ts): the adapter keeps
 * each message as it assigns its offset; resume and `latest` read here.
 */
export interface HistoryStore {
  /** Whether the channel keeps history (its notifications carry `offset`). */
  has (channel: string): boolean
  /** The channel's epoch and latest offset; undefined when it keeps no history. */
  position (channel: string): HistoryPosition | undefined
  /** Every kept message after `since`, oldest first; null when some of them are no longer kept. */
  after (channel: string, since: ResumePosition): string[] | null
  /** The channel's last message when the channel declares `latest: true` and one is kept. */
  latest (channel: string): string | undefined
  /** Messages held in all channels' history. */
  size (): number
  /**
   * Resolves once the channel's history can be read synchronously (a broker reads a namespace
   * channel's on first use); undefined when it already can.
   */
  load? (channel: string): Promise<void> | undefined
}

/**
 * The offset member, composed in one place for every adapter: the publisher serializes an
 * envelope without `offset`, and whoever assigns the offset appends it as the last member (the
 * wire's order). `offsetPrefix` is the part before the number, for a Lua script that appends
 * `offset .. '}'` itself (redis-scripts.ts, redis-inbox.ts).
 */
export function offsetPrefix (envelope: string): string {
  return `${envelope.slice(0, -1)},"offset":`
}

/** The envelope JSON (an object, never `{}`) with `"offset":N` appended as its last member. */
export function withOffset (envelope: string, offset: number): string {
  return `${offsetPrefix(envelope)}${offset}}`
}

/** The most the offset member adds to an envelope: `,"offset":` and a safe integer's 16 digits. */
export const OFFSET_MEMBER_MAX_BYTES = ',"offset":'.length + String(Number.MAX_SAFE_INTEGER).length

/** A message just kept: its serialized envelope, offset included, and where it stands. */
export interface Appended {
  readonly json: string
  readonly position: HistoryPosition
}

/** Keeps `envelope` in `log` with the log's next offset (memory stores: history and inbox). */
export function appendTo (log: ChannelLog, envelope: string): Appended {
  const offset = log.offset + 1
  const json = withOffset(envelope, offset)
  log.append(json, Date.now())
  return { json, position: { epoch: log.epoch, offset } }
}

/** A new epoch: random, so a restarted server never reuses one. */
function newEpoch (): string {
  return randomBytes(9).toString('base64url')
}

/** One channel's ring buffer. Offsets held are contiguous: oldest = offset - count + 1. */
export class ChannelLog {
  /** The history's epoch; a broker adapter's mirror starts empty and takes the cluster's. */
  epoch: string
  readonly latest: boolean
  offset = 0
  readonly #capacity: number
  readonly #ttl: number
  readonly #messages: Array<string | undefined>
  readonly #times: Float64Array
  /** Index of the oldest message held. */
  #head = 0
  count = 0

  constructor (size: number, ttl: number, latest: boolean, epoch: string) {
    this.epoch = epoch
    this.#capacity = size
    this.#ttl = ttl
    this.latest = latest
    this.#messages = new Array<string | undefined>(size)
    this.#times = new Float64Array(size)
  }

  append (json: string, now: number): void {
    this.evict(now)
    this.offset++
    const index = (this.#head + this.count) % this.#capacity
    this.#messages[index] = json
    this.#times[index] = now
    if (this.count < this.#capacity) this.count++
    else this.#head = (this.#head + 1) % this.#capacity
  }

  /** Starts over at another epoch (or after a hole): nothing kept, the next offset is offset + 1. */
  reset (epoch: string, offset: number): void {
    this.epoch = epoch
    this.offset = offset
    this.#messages.fill(undefined)
    this.#head = 0
    this.count = 0
  }

  /** Drops messages older than ttl (oldest first: they were appended in time order). */
  evict (now: number): void {
    if (this.#ttl === 0) return
    const oldestKept = now - this.#ttl
    while (this.count > 0 && this.#times[this.#head] < oldestKept) {
      this.#messages[this.#head] = undefined
      this.#head = (this.#head + 1) % this.#capacity
      this.count--
    }
  }

  /** The messages with offsets from..this.offset; `from` must be within what is held. */
  slice (from: number): string[] {
    const oldest = this.offset - this.count + 1
    const result: string[] = []
    for (let offset = from; offset <= this.offset; offset++) {
      result.push(this.#messages[(this.#head + offset - oldest) % this.#capacity] as string)
    }
    return result
  }
}

/** What a log holds after `since`, oldest first: null when some of it is gone (or another epoch). */
export function missedIn (log: ChannelLog, since: ResumePosition): string[] | null {
  if (since.epoch !== log.epoch || since.offset > log.offset) return null
  log.evict(Date.now())
  if (since.offset + 1 < log.offset - log.count + 1) return null
  return log.slice(since.offset + 1)
}

/** Messages held now in these logs (expired ones evicted first). */
export function heldIn (logs: Iterable<ChannelLog>, now = Date.now()): number {
  let held = 0
  for (const log of logs) {
    log.evict(now)
    held += log.count
  }
  return held
}

/**
 * What every HistoryStore kept in per-channel logs shares: lookups, resume and `latest`. Stores
 * differ only in where offsets come from (MemoryHistory.append here; Redis for its mirror).
 */
export abstract class LogHistory implements HistoryStore {
  protected readonly logs = new Map<string, ChannelLog>()

  constructor (channels: ReadonlyMap<string, ChannelConfig>, epochOf: () => string) {
    for (const { name, history, latest } of channels.values()) {
      // A namespace is not a channel: its channels' logs are made when used (MemoryHistory).
      if (history !== null && !isChannelPattern(name)) this.logs.set(name, new ChannelLog(history.size, history.ttl, latest, epochOf()))
    }
  }

  /** The channel's log, if it keeps history: every read goes through here. */
  protected logOf (channel: string): ChannelLog | undefined {
    return this.logs.get(channel)
  }

  has (channel: string): boolean {
    return this.logs.has(channel)
  }

  position (channel: string): HistoryPosition | undefined {
    const log = this.logOf(channel)
    return log === undefined ? undefined : { epoch: log.epoch, offset: log.offset }
  }

  after (channel: string, since: ResumePosition): string[] | null {
    const log = this.logOf(channel)
    return log === undefined ? null : missedIn(log, since)
  }

  latest (channel: string): string | undefined {
    const log = this.logOf(channel)
    if (log === undefined || !log.latest) return undefined
    log.evict(Date.now())
    return log.count === 0 ? undefined : log.slice(log.offset)[0]
  }

  size (): number {
    return heldIn(this.logs.values())
  }
}

/** The logs of one namespace's channels, least recently used first (a Map keeps insertion order). */
interface NamespaceLogs {
  readonly config: ChannelConfig & { readonly history: HistoryConfig }
  readonly logs: Map<string, ChannelLog>
}

/** The default HistoryStore: this process's memory; offsets are assigned here. */
export class MemoryHistory extends LogHistory {
  readonly #channels: ChannelDeclarations
  /** Namespace declaration (`user:*`) with history -> its channels' logs. */
  readonly #namespaces = new Map<string, NamespaceLogs>()

  constructor (channels: ChannelDeclarations) {
    super(channels, newEpoch)
    this.#channels = channels
    for (const config of channels.values()) {
      if (isChannelPattern(config.name) && config.history !== null) {
        this.#namespaces.set(config.name, { config: config as NamespaceLogs['config'], logs: new Map() })
      }
    }
  }

  /** The namespace a channel's history lives in: its most specific pattern, if that keeps history. */
  #namespaceOf (channel: string): NamespaceLogs | undefined {
    if (this.#namespaces.size === 0) return undefined
    const declared = this.#channels.nameOf(channel)
    return declared === undefined ? undefined : this.#namespaces.get(declared)
  }

  /**
   * A namespace channel's log is made on first use (a subscribe asks its position) with a new
   * epoch, and moved to the most recent end on each use. Past `history.channels` logs, the least
   * recently used is dropped: a client resuming it gets `recovered: false` (its epoch is gone),
   * never a replay that skips what the dropped log held.
   */
  protected override logOf (channel: string): ChannelLog | undefined {
    const declared = this.logs.get(channel)
    if (declared !== undefined) return declared
    const namespace = this.#namespaceOf(channel)
    if (namespace === undefined) return undefined
    const { logs, config } = namespace
    let log = logs.get(channel)
    if (log !== undefined) {
      logs.delete(channel)
    } else {
      if (logs.size >= config.history.channels) logs.delete(logs.keys().next().value as string)
      log = new ChannelLog(config.history.size, config.history.ttl, config.latest, newEpoch())
    }
    logs.set(channel, log)
    return log
  }

  override has (channel: string): boolean {
    return this.logs.has(channel) || this.#namespaceOf(channel) !== undefined
  }

  /** Keeps the envelope with the channel's next offset (the channel must keep history: `has`). */
  append (channel: string, envelope: string): Appended {
    return appendTo(this.logOf(channel) as ChannelLog, envelope)
  }

  override size (): number {
    let held = super.size()
    for (const { logs } of this.#namespaces.values()) held += heldIn(logs.values())
    return held
  }
}

/**
 * Answers a subscribe on a declared channel: the `subscribed` reply (with `epoch`, `offset` and,
 * when `since` was given on a channel the socket does not hold yet, `recovered`), then the missed
 * messages or the channel's latest one, then live messages. Everything from reading the history
 * to joining the subscribers happens in this one synchronous call, so a notification published
 * meanwhile is either replayed or delivered live: never both, never neither. Call it after any
 * asynchronous check (authorize).
 */
export function subscribeWithHistory (
  hub: Hub, history: HistoryStore, connection: Connection, channel: string,
  since: ResumePosition | undefined, id: RequestId | undefined
): void {
  const position = history.position(channel)
  const reply: Record<string, unknown> = { type: 'subscribed', channel, timestamp: new Date().toISOString(), id }
  let replay: readonly string[] = []
  if (position !== undefined) {
    reply.epoch = position.epoch
    reply.offset = position.offset
  }
  // A channel the socket already holds was sent every message since it joined: a replay would be
  // a second copy (and a free way to make the server queue its whole history again), and nothing
  // was interrupted, so there is nothing to recover: no replay, no `latest`, no `recovered`.
  if (!connection.channels.has(channel)) {
    if (since !== undefined) {
      const missed = position === undefined ? null : history.after(channel, since)
      reply.recovered = missed !== null
      if (missed !== null) replay = missed
    } else {
      const latest = history.latest(channel)
      if (latest !== undefined) replay = [latest]
    }
  }
  hub.subscribeWithReplay(connection, channel, encodeMessage(JSON.stringify(reply)), replay)
}
