// Counters of one registration, and the snapshot served at `${path}/stats`. The hub counts;
// this file only holds the numbers and shapes them. Never identities or addresses: a namespace
// channel (user:alice) names an identity, so it is listed under its declared pattern (user:*).
import { Type, type Static } from '@sinclair/typebox'

/**
 * Response schema of the stats route: PROTOCOL.md's keys plus ours. Its Static is checked against
 * the public NotificationStats by types/test/conformance (a key added to one side only fails there).
 */
export const StatsSchema = Type.Object({
  total_clients: Type.Integer({ description: 'sockets open now' }),
  total_channels: Type.Integer({ description: 'channels with at least one subscriber now' }),
  total_messages_sent: Type.Integer({ description: 'messages written to sockets since start' }),
  total_connections_ever: Type.Integer({ description: 'sockets accepted since start' }),
  channel_stats: Type.Record(Type.String(), Type.Integer(), { description: 'subscriber count per channel with subscribers' }),
  active_channels: Type.Array(Type.String(), { description: 'channels with subscribers' }),
  uptime_seconds: Type.Number({ description: 'seconds since registration' }),
  notifications_published: Type.Integer({ description: 'notify() and sendTo() calls that were sent' }),
  bytes_sent: Type.Integer({ description: 'bytes of messages written to sockets (frame payloads)' }),
  messages_dropped: Type.Integer({ description: 'messages not written to a subscriber (slow consumer, socket not open)' }),
  slow_consumers_closed: Type.Integer({ description: 'sockets closed with 1013 for reading too slowly' }),
  history_messages: Type.Integer({ description: 'messages held in all channels\' history' }),
  inbox_messages: Type.Integer({ description: 'direct messages kept in inboxes in this process\'s memory (0 with Redis)' }),
  broker_errors: Type.Integer({ description: 'broker (Redis) connection errors and failed publishes; 0 without a broker' }),
  protocol_errors: Type.Integer({ description: 'sockets closed for breaking the WebSocket protocol (invalid UTF-8, unmasked frame, bad opcode, frame over maxPayload)' }),
  websocket_clients: Type.Integer({ description: 'WebSocket sockets open now (of total_clients)' }),
  sse_clients: Type.Integer({ description: 'Server-Sent Events streams open now (of total_clients)' }),
  messages_conflated: Type.Integer({ description: 'messages of delivery: latest channels replaced by a newer one before a subscriber that was behind got them' })
})
export type StatsSnapshot = Static<typeof StatsSchema>

/** The name a concrete channel is listed under in stats and metrics labels. */
export type ListedName = (channel: string) => string

/** Listed name of a channel no declaration covers (only possible with messages from another instance). */
export const UNDECLARED = '(undeclared)'

/** Lists each channel under its declaration: itself when declared plain, its pattern (user:*) for user:42. */
export function declaredNameOf (registry: { declarationOf (channel: string): string | undefined }): ListedName {
  return (channel) => registry.declarationOf(channel) ?? UNDECLARED
}

export class Counters {
  readonly startedAt = Date.now()
  connectionsEver = 0
  messagesSent = 0
  bytesSent = 0
  notificationsPublished = 0
  messagesDropped = 0
  slowConsumersClosed = 0
  /** Counted by a broker adapter: connection errors and publishes that failed. */
  brokerErrors = 0
  /** Peers' WebSocket protocol violations (connection.ts): each closes its socket. */
  protocolErrors = 0
  /** Messages of 'latest' channels replaced by a newer one before a behind socket got them (conflation.ts). */
  messagesConflated = 0
  /**
   * The name stats list a subscribed channel under; set once at registration (index.ts) to
   * declaredNameOf(registry). The default (the name itself) only serves a hub without declarations.
   */
  listedName: ListedName = (channel) => channel
}

/**
 * Builds the stats body from the counters and the live subscription map. Channels are grouped by
 * their listed name: a declared plain channel is its own entry (PROTOCOL.md's meaning); the
 * channels of a namespace are one entry, `user:*`, holding their summed subscribers.
 */
export function snapshot (counters: Counters, openSockets: number, subscribers: ReadonlyMap<string, ReadonlySet<unknown>>, historyMessages = 0, sseStreams = 0, inboxMessages = 0): StatsSnapshot {
  // No prototype: a channel may be named "__proto__" or "constructor".
  const channelStats: Record<string, number> = Object.create(null)
  // In order of first appearance (Object.keys would put integer-like names first).
  const active: string[] = []
  for (const [channel, set] of subscribers) {
    const name = counters.listedName(channel)
    const count = channelStats[name]
    if (count === undefined) active.push(name)
    channelStats[name] = (count ?? 0) + set.size
  }
  return {
    total_clients: openSockets,
    total_channels: active.length,
    total_messages_sent: counters.messagesSent,
    total_connections_ever: counters.connectionsEver,
    channel_stats: channelStats,
    active_channels: active,
    uptime_seconds: Math.round((Date.now() - counters.startedAt) / 100) / 10,
    notifications_published: counters.notificationsPublished,
    bytes_sent: counters.bytesSent,
    messages_dropped: counters.messagesDropped,
    slow_consumers_closed: counters.slowConsumersClosed,
    history_messages: historyMessages,
    inbox_messages: inboxMessages,
    broker_errors: counters.brokerErrors,
    protocol_errors: counters.protocolErrors,
    websocket_clients: openSockets - sseStreams,
    sse_clients: sseStreams,
    messages_conflated: counters.messagesConflated
  }
}
