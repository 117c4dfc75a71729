// The one catalog of errors the Fastify-side API throws or rejects with.
// Wire-level errors (sent to clients as frames) live in protocol.ts.
import createError from '@fastify/error'

/** The registration options are wrong; the message names the option and what it accepts. */
export const FST_WS_NOTIFY_INVALID_OPTION = createError(
  'FST_WS_NOTIFY_INVALID_OPTION', 'fastify-ws-notify: %s', 500, TypeError)

/** The plugin was registered twice on one Fastify instance. */
export const FST_WS_NOTIFY_ALREADY_REGISTERED = createError(
  'FST_WS_NOTIFY_ALREADY_REGISTERED',
  'fastify-ws-notify is already registered on this instance: register it once, or in separate encapsulated contexts without fastify-plugin')

/** notify() named a channel that was not declared. */
export const FST_WS_NOTIFY_UNKNOWN_CHANNEL = createError(
  'FST_WS_NOTIFY_UNKNOWN_CHANNEL', 'Unknown channel "%s"; declared channels: %s', 500, TypeError)

/** notify() named an event type the channel did not declare. */
export const FST_WS_NOTIFY_UNKNOWN_EVENT = createError(
  'FST_WS_NOTIFY_UNKNOWN_EVENT', 'Unknown event type "%s" for channel "%s"; declared types: %s', 500, TypeError)

/** notify() data does not match the declared schema. */
export const FST_WS_NOTIFY_INVALID_PAYLOAD = createError(
  'FST_WS_NOTIFY_INVALID_PAYLOAD', 'Invalid data for "%s" on channel "%s": %s', 500, TypeError)

/** The serialized envelope is larger than maxMessageSize, or data is not JSON-serializable. */
export const FST_WS_NOTIFY_MESSAGE_TOO_LARGE = createError(
  'FST_WS_NOTIFY_MESSAGE_TOO_LARGE', 'Message of %d bytes exceeds maxMessageSize (%d bytes)', 500, RangeError)

/** data cannot be serialized to JSON (a cycle, a BigInt...). */
export const FST_WS_NOTIFY_UNSERIALIZABLE = createError(
  'FST_WS_NOTIFY_UNSERIALIZABLE', 'data cannot be serialized to JSON: %s', 500, TypeError)

/** A direct message named an invalid client id. */
export const FST_WS_NOTIFY_INVALID_CLIENT_ID = createError(
  'FST_WS_NOTIFY_INVALID_CLIENT_ID', 'Invalid client id %s: expected 1-128 characters of [A-Za-z0-9_.:@|-]', 500, TypeError)

/** An event type is not a non-empty string. */
export const FST_WS_NOTIFY_INVALID_TYPE = createError(
  'FST_WS_NOTIFY_INVALID_TYPE', 'Invalid event type %s: expected a non-empty string', 500, TypeError)

/** notify()/sendTo() was called after the server started closing. */
export const FST_WS_NOTIFY_CLOSED = createError(
  'FST_WS_NOTIFY_CLOSED', 'fastify-ws-notify is closed: the server is shutting down', 503)

/** The `authenticate` hook returned an identity whose id is not a valid client id. */
export const FST_WS_NOTIFY_INVALID_IDENTITY = createError(
  'FST_WS_NOTIFY_INVALID_IDENTITY',
  'authenticate returned an identity with id %s: return a string or { id } of 1-128 characters of [A-Za-z0-9_.:@|-], or null/false to refuse', 500, TypeError)

/** The Redis adapter (or an external publisher) cannot reach Redis: the message did not reach other instances. */
export const FST_WS_NOTIFY_BROKER_UNAVAILABLE = createError(
  'FST_WS_NOTIFY_BROKER_UNAVAILABLE', 'The broker (Redis) cannot be reached: %s', 503)

/** A `redis://` URL was given but ioredis (an optional peer dependency) is not installed. */
export const FST_WS_NOTIFY_MISSING_IOREDIS = createError(
  'FST_WS_NOTIFY_MISSING_IOREDIS', 'A redis:// URL needs ioredis, an optional peer dependency: npm install ioredis (%s)', 500)

/** disconnect() was given a close code or reason a close frame cannot carry. */
export const FST_WS_NOTIFY_INVALID_CLOSE = createError(
  'FST_WS_NOTIFY_INVALID_CLOSE', 'Invalid close for disconnect(): %s', 500, RangeError)

/** Redis did not confirm a publish in time (or the connection dropped with it in flight): it may still be delivered. */
export const FST_WS_NOTIFY_BROKER_TIMEOUT = createError(
  'FST_WS_NOTIFY_BROKER_TIMEOUT',
  'The broker (Redis) did not confirm the message: %s. It may still be delivered; a retry may deliver it twice', 504)

/** presence()/presenceStats() named a channel that did not opt in to presence. */
export const FST_WS_NOTIFY_NO_PRESENCE = createError(
  'FST_WS_NOTIFY_NO_PRESENCE', 'Channel "%s" has no presence: declare it with presence: true (or joinLeave: true)', 500, TypeError)
/** @fastify/websocket registered after this plugin, which had already registered it. */
export const FST_WS_NOTIFY_WEBSOCKET_ORDER = createError(
  'FST_WS_NOTIFY_WEBSOCKET_ORDER',
  '@fastify/websocket was registered after fastify-ws-notify, which already registered it (a second one would answer every upgrade twice). ' +
  'Register @fastify/websocket before fastify-ws-notify to give it options, or not at all: your { websocket: true } routes already work', 500)
