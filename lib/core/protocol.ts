// The wire protocol (../shared/PROTOCOL.md, version 1): TypeBox schemas of every frame, the error
// and close codes, and parseClientFrame(), the one place an inbound frame is parsed and checked.
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

export const CHANNEL_NAME_MAX = 255
/** Deepest nesting accepted in an inbound frame: real frames are flat; deep ones only cost CPU. */
export const MAX_FRAME_DEPTH = 16

/** The codes the plugin closes with; every close code of the protocol is in close-codes.ts. */
export { CloseCode } from './close-codes'

/** Codes a server may send in a close frame (RFC 6455 7.4; 1004-1006 and 1015 are never sent). */
export function isSendableCloseCode (code: unknown): code is number {
  if (typeof code !== 'number' || !Number.isInteger(code)) return false
  if (code >= 3000 && code <= 4999) return true
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006
}

/** A close frame holds at most 123 bytes of reason. */
export const CLOSE_REASON_MAX_BYTES = 123

export type ErrorCode =
  | 'INVALID_JSON' | 'INVALID_MESSAGE' | 'UNKNOWN_ACTION' | 'INVALID_CHANNEL'
  | 'FORBIDDEN' | 'RATE_LIMITED' | 'TOO_MANY_SUBSCRIPTIONS' | 'PRESENCE_NOT_ENABLED' | 'CHANNEL_FULL' | 'PRESENCE_UNAVAILABLE'
  | 'HISTORY_UNAVAILABLE'

/**
 * Characters of a client id (the `client_id` query, or the identity `authenticate` returns). `|`
 * is there for identity providers' subjects such as Auth0's `auth0|abc` or `google-oauth2|123`.
 */
export const CLIENT_ID_CHARS = '[A-Za-z0-9_.:@|-]'
/** `client_id`: 1-128 characters of CLIENT_ID_CHARS. */
export const CLIENT_ID_PATTERN = new RegExp(`^${CLIENT_ID_CHARS}{1,128}$`)

// ---- client to server ------------------------------------------------------------------

/** `id` a client may put on any action; echoed on the reply and on any error it causes. */
export const RequestId = Type.Union([Type.String({ maxLength: 64 }), Type.Integer()])
export type RequestId = Static<typeof RequestId>

/** `since` on subscribe: resume after `offset` of history `epoch` (see history.ts). */
export const Since = Type.Object({
  offset: Type.Integer({ minimum: 0 }),
  epoch: Type.String({ minLength: 1, maxLength: 64 })
})
export type Since = Static<typeof Since>

export const ChannelAction = Type.Object({
  action: Type.Union([Type.Literal('subscribe'), Type.Literal('unsubscribe')]),
  channel: Type.String({ minLength: 1 }),
  id: Type.Optional(RequestId),
  since: Type.Optional(Since)
})
export const PingAction = Type.Object({
  action: Type.Literal('ping'),
  id: Type.Optional(RequestId)
})
/** Who is on a channel (`presence`), or how many (`presence_stats`); `request_id` is echoed like `id`. */
export const PresenceAction = Type.Object({
  action: Type.Union([Type.Literal('presence'), Type.Literal('presence_stats')]),
  channel: Type.String({ minLength: 1 }),
  id: Type.Optional(RequestId),
  request_id: Type.Optional(RequestId)
})
/** Every frame a client may send. Unknown extra fields are ignored, as the protocol says. */
export const ClientFrame = Type.Union([ChannelAction, PingAction, PresenceAction])
export type ClientFrame = Static<typeof ClientFrame>

// ---- server to client ------------------------------------------------------------------

const Timestamp = Type.String({ format: 'date-time' })

export const ConnectedFrame = Type.Object({
  type: Type.Literal('connected'),
  client_id: Type.String(),
  available_channels: Type.Array(Type.String()),
  timestamp: Timestamp,
  /** With the `inbox` option: where the client id's inbox stands; `recovered` answers `inbox_since`. */
  inbox: Type.Optional(Type.Object({ epoch: Type.String(), offset: Type.Integer({ minimum: 0 }), recovered: Type.Optional(Type.Boolean()) }))
})
export const SubscribedFrame = Type.Object({
  type: Type.Union([Type.Literal('subscribed'), Type.Literal('unsubscribed')]),
  channel: Type.String(),
  timestamp: Timestamp,
  id: Type.Optional(RequestId),
  /** On a channel with history: its epoch and latest offset. */
  epoch: Type.Optional(Type.String()),
  offset: Type.Optional(Type.Integer()),
  /** Present when the subscribe carried `since`: whether every missed message follows. */
  recovered: Type.Optional(Type.Boolean())
})
export const PongFrame = Type.Object({
  type: Type.Literal('pong'),
  timestamp: Timestamp,
  id: Type.Optional(RequestId)
})
export const ErrorFrame = Type.Object({
  type: Type.Literal('error'),
  code: Type.String(),
  message: Type.String(),
  available_channels: Type.Optional(Type.Array(Type.String())),
  id: Type.Optional(RequestId),
  timestamp: Timestamp
})
/** A notification (with `channel`), a direct message (without) or a broadcast (without, `broadcast: true`). */
export const NotificationFrame = Type.Object({
  type: Type.String(),
  channel: Type.Optional(Type.String()),
  data: Type.Unknown(),
  timestamp: Timestamp,
  /** On a channel with history: 1 for its first notification, +1 for each next one. */
  offset: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Only on a broadcast (app.notifications.broadcast): sent to every socket. */
  broadcast: Type.Optional(Type.Literal(true))
})
/** The answer to `presence`: at most presence.maxListed members, `total` of them in all. */
export const PresenceFrame = Type.Object({
  type: Type.Literal('presence'),
  channel: Type.String(),
  members: Type.Array(Type.Object({ client: Type.String(), info: Type.Optional(Type.Unknown()) })),
  total: Type.Integer({ minimum: 0 }),
  truncated: Type.Boolean(),
  timestamp: Timestamp,
  id: Type.Optional(RequestId),
  request_id: Type.Optional(RequestId)
})
/** The answer to `presence_stats`: sockets (`clients`) and distinct client ids (`users`). */
export const PresenceStatsFrame = Type.Object({
  type: Type.Literal('presence_stats'),
  channel: Type.String(),
  clients: Type.Integer({ minimum: 0 }),
  users: Type.Integer({ minimum: 0 }),
  timestamp: Timestamp,
  id: Type.Optional(RequestId),
  request_id: Type.Optional(RequestId)
})
/** On a joinLeave channel: a client id's first socket subscribed, or its last one left (after the grace). */
export const JoinLeaveFrame = Type.Object({
  type: Type.Union([Type.Literal('join'), Type.Literal('leave')]),
  channel: Type.String(),
  client: Type.String(),
  info: Type.Optional(Type.Unknown()),
  timestamp: Timestamp
})
export const ServerFrame = Type.Union([ConnectedFrame, SubscribedFrame, PongFrame, ErrorFrame, NotificationFrame,
  PresenceFrame, PresenceStatsFrame, JoinLeaveFrame])
export type ServerFrame = Static<typeof ServerFrame>

// ---- parsing ---------------------------------------------------------------------------

// `since` is checked on its own (subscribe only), so an unsubscribe never fails on it.
const isChannelAction = TypeCompiler.Compile(Type.Omit(ChannelAction, ['since']))
const isPingAction = TypeCompiler.Compile(PingAction)
const isSince = TypeCompiler.Compile(Since)
const isPresenceAction = TypeCompiler.Compile(PresenceAction)
const isKnownAction = new Set(['subscribe', 'unsubscribe', 'ping', 'presence', 'presence_stats'])

export type ParseResult =
  | { ok: true, frame: ClientFrame }
  | { ok: false, code: ErrorCode, message: string, id?: RequestId }

/**
 * Deepest bracket nesting of a JSON text, strings skipped. Linear and allocation-free, so a
 * deeply nested frame is refused before JSON.parse spends time on it.
 */
export function jsonDepth (text: string, limit: number): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92 /* \ */) i++
      else if (c === 34 /* " */) inString = false
    } else if (c === 34) {
      inString = true
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) { max = depth; if (max > limit) return max }
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      depth--
    }
  }
  return max
}

function readId (value: Record<string, unknown>): RequestId | undefined {
  const id = value.id
  if (typeof id === 'string' && id.length <= 64) return id
  if (typeof id === 'number' && Number.isSafeInteger(id)) return id
  return undefined
}

/**
 * Parses one inbound text frame. Only the fields the protocol names are read, so keys such as
 * `__proto__` in the JSON are inert: nothing is ever merged or copied from the parsed value.
 */
export function parseClientFrame (text: string): ParseResult {
  if (jsonDepth(text, MAX_FRAME_DEPTH) > MAX_FRAME_DEPTH) {
    return { ok: false, code: 'INVALID_MESSAGE', message: `Frame nested deeper than ${MAX_FRAME_DEPTH} levels` }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, code: 'INVALID_JSON', message: 'Frame is not valid JSON' }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'INVALID_MESSAGE', message: 'Frame must be a JSON object such as {"action":"subscribe","channel":"..."}' }
  }
  const record = value as Record<string, unknown>
  const id = readId(record)
  const action = record.action
  if (typeof action !== 'string') {
    return { ok: false, code: 'INVALID_MESSAGE', message: 'Frame needs "action": one of subscribe, unsubscribe, ping, presence, presence_stats', id }
  }
  if (!isKnownAction.has(action)) {
    return { ok: false, code: 'UNKNOWN_ACTION', message: `Unknown action: ${action.slice(0, 64)}; expected subscribe, unsubscribe, ping, presence or presence_stats`, id }
  }
  if (record.id !== undefined && id === undefined) {
    return { ok: false, code: 'INVALID_MESSAGE', message: '"id" must be a string of at most 64 characters or an integer' }
  }
  if (action === 'subscribe' && record.since !== undefined && !isSince.Check(record.since)) {
    return { ok: false, code: 'INVALID_MESSAGE', message: '"since" must be {"offset": integer >= 0, "epoch": string of 1-64 characters}', id }
  }
  if (action === 'ping') {
    if (isPingAction.Check(value)) return { ok: true, frame: value }
  } else if (action === 'presence' || action === 'presence_stats') {
    if (isPresenceAction.Check(value)) return { ok: true, frame: value }
  } else if (isChannelAction.Check(value)) {
    return { ok: true, frame: value }
  }
  return { ok: false, code: 'INVALID_MESSAGE', message: `"${action}" needs "channel": a non-empty string`, id }
}
