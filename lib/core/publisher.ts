// notify() and sendTo(): check what the application sends, build the envelope and serialize it
// once, then hand it to the adapter, which appends the offset where there is one (adapter.ts).
// Per-subscriber work happens only in hub.ts.
import type { ChannelRegistry } from './channels'
import type { Adapter } from './adapter'
import { OFFSET_MEMBER_MAX_BYTES } from './history'
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
  /** True once Fastify has started closing. */
  isClosing (): boolean
}

/**
 * The one serialization of a message, checked against maxMessageSize before anything is sent.
 * `reserved`: the bytes its adapter may still append (the offset member, counted at its largest,
 * so the bound holds whatever the offset).
 */
function serialize (envelope: object, maxMessageSize: number, reserved: number): string {
  let json: string
  try {
    json = JSON.stringify(envelope)
  } catch (err) {
    throw new FST_WS_NOTIFY_UNSERIALIZABLE((err as Error).message)
  }
  // Byte length only matters near the limit; a string's UTF-8 size is at most 3 bytes per unit.
  if (json.length * 3 + reserved > maxMessageSize) {
    const bytes = Buffer.byteLength(json) + reserved
    if (bytes > maxMessageSize) throw new FST_WS_NOTIFY_MESSAGE_TOO_LARGE(bytes, maxMessageSize)
  }
  return json
}

export function createPublisher (context: PublisherContext) {
  const { registry, adapter, counters, maxMessageSize } = context
  const { history } = adapter
  const inboxReserve = adapter.inbox === null ? 0 : OFFSET_MEMBER_MAX_BYTES

  /** Sends {type, channel, data, timestamp} to every subscriber of the channel. */
  async function notify (channel: string, type: string, data: unknown): Promise<number> {
    if (context.isClosing()) throw new FST_WS_NOTIFY_CLOSED()
    registry.validate(channel, type, data)
    const envelope = { type, channel, data: data === undefined ? null : data, timestamp: new Date().toISOString() }
    // On a history channel the adapter appends the offset it assigns (history.ts, withOffset).
    const json = serialize(envelope, maxMessageSize, history.has(channel) ? OFFSET_MEMBER_MAX_BYTES : 0)
    counters.notificationsPublished++
    return (await adapter.publish({ kind: 'channel', channel }, json)).delivered
  }

  /** Sends {type, data, timestamp} (no channel) to every socket of one client id. */
  async function sendTo (clientId: string, type: string, data: unknown): Promise<number> {
    if (context.isClosing()) throw new FST_WS_NOTIFY_CLOSED()
    if (typeof clientId !== 'string' || !CLIENT_ID_PATTERN.test(clientId)) {
      throw new FST_WS_NOTIFY_INVALID_CLIENT_ID(JSON.stringify(clientId) ?? String(clientId))
    }
    if (typeof type !== 'string' || type.length === 0) throw new FST_WS_NOTIFY_INVALID_TYPE(JSON.stringify(type) ?? String(type))
    // With an inbox the adapter keeps it with the client id's next offset, as on a history channel.
    const json = serialize({ type, data: data === undefined ? null : data, timestamp: new Date().toISOString() }, maxMessageSize, inboxReserve)
    counters.notificationsPublished++
    return (await adapter.publish({ kind: 'client', clientId }, json)).delivered
  }

  /** Sends {type, data, broadcast: true, timestamp} to every socket, subscribed or not. */
  async function broadcast (type: string, data: unknown): Promise<number> {
    if (context.isClosing()) throw new FST_WS_NOTIFY_CLOSED()
    if (typeof type !== 'string' || type.length === 0) throw new FST_WS_NOTIFY_INVALID_TYPE(JSON.stringify(type) ?? String(type))
    const json = serialize({ type, data: data === undefined ? null : data, broadcast: true, timestamp: new Date().toISOString() }, maxMessageSize, 0)
    counters.notificationsPublished++
    return (await adapter.publish({ kind: 'all' }, json)).delivered
  }

  return { notify, sendTo, broadcast }
}
