// notify() and sendTo(): check what the application sends, build the envelope and serialize it
// once, then hand it to the adapter. Per-subscriber work happens only in hub.ts.
import type { ChannelRegistry } from './channels'
import type { Adapter } from './adapter'
import type { HistoryStore } from './history'
import type { InboxStore } from './inbox'
import type { Counters } from './stats'
import { CLIENT_ID_PATTERN } from './protocol'
import {
  FST_WS_NOTIFY_CLOSED,
  FST_WS_NOTIFY_INVALID_CLIENT_ID,
  FST_WS_NOTIFY_INVALID_TYPE,
  FST_WS_NOTIFY_MESSAGE_TOO_LARGE,
  FST_WS_NOTIFY_UNSERIALIZABLE
} from './errors'

export interface PublisherContext {
  readonly registry: ChannelRegistry
  readonly adapter: Adapter
  readonly counters: Counters
  readonly maxMessageSize: number
  /** Offsets and kept messages of channels with history. */
  readonly history?: HistoryStore
  /** Direct messages kept per client id (inbox.ts); absent without `inbox`. */
  readonly inbox?: InboxStore
  /** True once Fastify has started closing. */
  isClosing (): boolean
}

function serialize (envelope: object, maxMessageSize: number): string {
  let json: string
  try {
    json = JSON.stringify(envelope)
  } catch (err) {
    throw new FST_WS_NOTIFY_UNSERIALIZABLE((err as Error).message)
  }
  // Byte length only matters near the limit; a string's UTF-8 size is at most 3 bytes per unit.
  if (json.length * 3 > maxMessageSize) {
    const bytes = Buffer.byteLength(json)
    if (bytes > maxMessageSize) throw new FST_WS_NOTIFY_MESSAGE_TOO_LARGE(bytes, maxMessageSize)
  }
  return json
}

export function createPublisher (context: PublisherContext) {
  const { registry, adapter, counters, maxMessageSize, history, inbox } = context

  /** Sends {type, channel, data, timestamp} to every subscriber of the channel. */
  async function notify (channel: string, type: string, data: unknown): Promise<number> {
    if (context.isClosing()) throw new FST_WS_NOTIFY_CLOSED()
    registry.validate(channel, type, data)
    const envelope = { type, channel, data: data === undefined ? null : data, timestamp: new Date().toISOString() }
    // On a history channel the offset is part of the one serialization, and the message is kept
    // in the same synchronous step that (with the memory adapter) delivers it.
    // An adapter with its own history (Redis) assigns offsets cluster-wide: it replaces the 0.
    const json = history?.has(channel) === true
      ? adapter.history !== undefined
        ? serialize({ ...envelope, offset: 0 }, maxMessageSize)
        : history.append(channel, (offset) => serialize({ ...envelope, offset }, maxMessageSize))
      : serialize(envelope, maxMessageSize)
    counters.notificationsPublished++
    return await adapter.publish({ kind: 'channel', channel }, json)
  }

  /** Sends {type, data, timestamp} (no channel) to every socket of one client id. */
  async function sendTo (clientId: string, type: string, data: unknown): Promise<number> {
    if (context.isClosing()) throw new FST_WS_NOTIFY_CLOSED()
    if (typeof clientId !== 'string' || !CLIENT_ID_PATTERN.test(clientId)) {
      throw new FST_WS_NOTIFY_INVALID_CLIENT_ID(JSON.stringify(clientId) ?? String(clientId))
    }
    if (typeof type !== 'string' || type.length === 0) throw new FST_WS_NOTIFY_INVALID_TYPE(JSON.stringify(type) ?? String(type))
    const envelope = { type, data: data === undefined ? null : data, timestamp: new Date().toISOString() }
    // With an inbox the message is kept with the client id's next offset (as on a history
    // channel); a broker adapter that keeps inboxes itself replaces the `"offset":0`.
    const json = inbox === undefined
      ? serialize(envelope, maxMessageSize)
      : inbox.append === undefined
        ? serialize({ ...envelope, offset: 0 }, maxMessageSize)
        : inbox.append(clientId, (offset) => serialize({ ...envelope, offset }, maxMessageSize))
    counters.notificationsPublished++
    return await adapter.publish({ kind: 'client', clientId }, json)
  }

  /** Sends {type, data, broadcast: true, timestamp} to every socket, subscribed or not. */
  async function broadcast (type: string, data: unknown): Promise<number> {
    if (context.isClosing()) throw new FST_WS_NOTIFY_CLOSED()
    if (typeof type !== 'string' || type.length === 0) throw new FST_WS_NOTIFY_INVALID_TYPE(JSON.stringify(type) ?? String(type))
    const json = serialize({ type, data: data === undefined ? null : data, broadcast: true, timestamp: new Date().toISOString() }, maxMessageSize)
    counters.notificationsPublished++
    return await adapter.publish({ kind: 'all' }, json)
  }

  return { notify, sendTo, broadcast }
}
