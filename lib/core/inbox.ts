// The inbox of direct messages (opt-in `inbox: { size, ttl, clients }`): every sendTo() to a
// client id is kept, with the next offset of that client id's inbox, so a client that was away
// asks for what it missed when it connects (`?inbox_since=EPOCH:OFFSET`) and gets it, in order,
// right after `connected`. Offsets, epochs and `recovered` work as in channel history (history.ts,
// whose ring buffer this reuses). Replay is on explicit recovery only: a connection without
// `inbox_since` starts at the inbox's current position (as Centrifugo and Ably do).
//
// The store below is this process's memory, bounded by `size` and `ttl` per client id and by
// `clients` client ids (the one used least recently is dropped first); the in-memory adapter owns
// it. The Redis adapter owns its own (redis-inbox.ts): Streams, offsets cluster-wide.
import { randomBytes } from 'node:crypto'
import { ChannelLog, appendTo, heldIn, missedIn, type Appended, type HistoryPosition, type ResumePosition } from './history'
import type { InboxConfig } from './config-types'

/** What a connecting client is told about its inbox, and what it missed. */
export interface InboxRecovery extends HistoryPosition {
  /** Present when the client gave `inbox_since`: whether every missed message follows. */
  readonly recovered?: boolean
  /** Missed messages (serialized envelopes, each with its `offset`), oldest first. */
  readonly messages: readonly string[]
}

/**
 * The read side of the inboxes, owned by the adapter (adapter.ts), which keeps each direct
 * message as it assigns its offset.
 */
export interface InboxStore {
  /**
   * The inbox's position and, after `since`, what was missed. `done` is called once, in the same
   * synchronous step that the connection must join the hub in, so that nothing sent meanwhile is
   * either lost or replayed twice; `failed` when the store cannot answer (Redis away).
   */
  recover (clientId: string, since: ResumePosition | undefined, done: (recovery: InboxRecovery) => void, failed: (err: Error) => void): void
  /** Messages held in this process's memory. */
  size (): number
}

/** `inbox_since=EPOCH:OFFSET` of an upgrade; undefined when absent, null when malformed. */
export function parseInboxSince (value: unknown): ResumePosition | undefined | null {
  if (value === undefined) return undefined
  if (typeof value !== 'string') return null
  const match = /^([A-Za-z0-9_-]{1,64}):(0|[1-9][0-9]{0,15})$/.exec(value)
  if (match === null) return null
  const offset = Number(match[2])
  return Number.isSafeInteger(offset) ? { epoch: match[1], offset } : null
}

/** The default InboxStore: this process's memory; offsets are assigned here. */
export class MemoryInbox implements InboxStore {
  readonly #config: InboxConfig
  /** client id -> its inbox, least recently used first (a Map keeps insertion order). */
  readonly #logs = new Map<string, ChannelLog>()

  constructor (config: InboxConfig) {
    this.#config = config
  }

  /** The client id's inbox, made when first used (new epoch), moved to the most recent end. */
  #logOf (clientId: string): ChannelLog {
    let log = this.#logs.get(clientId)
    if (log !== undefined) {
      this.#logs.delete(clientId)
    } else {
      if (this.#logs.size >= this.#config.clients) this.#logs.delete(this.#logs.keys().next().value as string)
      log = new ChannelLog(this.#config.size, this.#config.ttl, false, randomBytes(9).toString('base64url'))
    }
    this.#logs.set(clientId, log)
    return log
  }

  /** Keeps the envelope with the client id's next offset. */
  append (clientId: string, envelope: string): Appended {
    return appendTo(this.#logOf(clientId), envelope)
  }

  recover (clientId: string, since: ResumePosition | undefined, done: (recovery: InboxRecovery) => void): void {
    const log = this.#logOf(clientId)
    const position = { epoch: log.epoch, offset: log.offset }
    if (since === undefined) return done({ ...position, messages: [] })
    const missed = missedIn(log, since)
    done({ ...position, recovered: missed !== null, messages: missed ?? [] })
  }

  size (): number {
    return heldIn(this.#logs.values())
  }
}
