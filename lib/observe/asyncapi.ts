// The AsyncAPI 3 description served at `${path}/asyncapi.json` (option `asyncapi`), generated from
// the frames of protocol.ts and the channel declarations (TypeBox schemas are JSON Schema). As the
// WebSocket binding says, the AsyncAPI channel is the connection; the plugin's channels are
// multiplexed on it, so each declared channel is one `receive` operation whose messages are its
// events. Built once at registration, in its two forms (ws and wss, by the scheme of the request).
// The server's host is the placeholder `{host}` (a server variable): echoing the request's Host
// header would let whoever sends it write into the document (issue 18.6).
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { EventSchema } from '../core/event-schema'
import type { Config } from '../core/config-types'
import { isChannelPattern } from '../core/declared-channels'
import {
  CHANNEL_NAME_MAX, CLIENT_ID_PATTERN, ConnectedFrame, ErrorFrame, JoinLeaveFrame, NotificationFrame, PingAction, PongFrame,
  PresenceAction, PresenceFrame, PresenceStatsFrame, RequestId, Since, SubscribedFrame, type ErrorCode
} from '../core/protocol'
import { sideRouteUrl, statsHooks } from './side-routes'
import { closeCodeTable } from '../core/close-codes'

type JsonSchema = Record<string, unknown>
type AsyncApiDocument = Record<string, unknown> & { servers?: unknown }

// Every error code of PROTOCOL.md; the type below fails to compile if protocol.ts adds one.
const ERROR_CODES = ['INVALID_JSON', 'INVALID_MESSAGE', 'UNKNOWN_ACTION', 'INVALID_CHANNEL', 'FORBIDDEN', 'RATE_LIMITED',
  'TOO_MANY_SUBSCRIPTIONS', 'PRESENCE_NOT_ENABLED', 'CHANNEL_FULL', 'PRESENCE_UNAVAILABLE', 'HISTORY_UNAVAILABLE'] as const satisfies readonly ErrorCode[]
type MissingErrorCode = Exclude<ErrorCode, typeof ERROR_CODES[number]>
/** true, or a compile error naming the missing code. */
export const ERROR_CODES_COMPLETE: [MissingErrorCode] extends [never] ? true : MissingErrorCode = true

/** A TypeBox schema as plain JSON Schema: its symbol keys (Kind, Optional) dropped. */
function plain (schema: EventSchema | JsonSchema): JsonSchema {
  return JSON.parse(JSON.stringify(schema)) as JsonSchema
}

/** An object schema with some properties replaced (and made required). */
function withProperties (base: EventSchema, properties: Record<string, JsonSchema>, drop: readonly string[] = []): JsonSchema {
  const schema = plain(base)
  const own = { ...(schema.properties as Record<string, JsonSchema>) }
  for (const key of drop) delete own[key]
  const required = new Set((schema.required as string[] | undefined ?? []).filter((key) => !drop.includes(key)))
  for (const key of Object.keys(properties)) required.add(key)
  return { ...schema, properties: { ...own, ...properties }, required: [...required] }
}

/** A component key (`^[A-Za-z0-9._-]+$`) for any name, unique within `taken`. */
function keyFor (name: string, taken: Set<string>): string {
  const base = name.replace(/[^A-Za-z0-9._-]/g, '_') || '_'
  let key = base
  for (let n = 2; taken.has(key); n++) key = `${base}_${n}`
  taken.add(key)
  return key
}

function escapeRegExp (text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')
}

/** The `channel` field of a declared channel's notifications: its name, or the names of its namespace. */
function channelNameSchema (name: string): JsonSchema {
  if (!isChannelPattern(name)) return { type: 'string', const: name }
  return {
    type: 'string',
    pattern: `^${escapeRegExp(name.slice(0, -1))}[A-Za-z0-9_.:@|-]+$`,
    maxLength: CHANNEL_NAME_MAX,
    description: `a channel of the namespace ${name} (for example the caller's own)`
  }
}

interface Message {
  name: string
  title?: string
  summary?: string
  contentType: string
  payload: JsonSchema
}

function message (name: string, summary: string, payload: JsonSchema, title?: string): Message {
  return { name, ...(title !== undefined && { title }), summary, contentType: 'application/json', payload }
}

/** Builds the document (without `servers`, which depend on the request). */
export function buildAsyncApi (config: Config): AsyncApiDocument {
  const ref = (key: string): { $ref: string } => ({ $ref: `#/channels/socket/messages/${key}` })
  const messages: Record<string, Message> = {}
  const taken = new Set<string>()
  const add = (name: string, value: Message): string => {
    const key = keyFor(name, taken)
    messages[key] = value
    return key
  }

  const channelField = { type: 'string', minLength: 1, maxLength: CHANNEL_NAME_MAX, description: 'a declared channel, or a channel of a declared namespace (user:42 for user:*)' }
  const id = plain(RequestId)
  const subscribe = add('subscribe', message('subscribe', 'Join a channel; replied with subscribed (or an error with the same id).', {
    type: 'object',
    properties: { action: { type: 'string', const: 'subscribe' }, channel: channelField, id, since: { ...plain(Since), description: 'resume after this offset of this history epoch (channels with history)' } },
    required: ['action', 'channel']
  }))
  const unsubscribe = add('unsubscribe', message('unsubscribe', 'Leave a channel; replied with unsubscribed. Leaving a channel one is not in is not an error.', {
    type: 'object',
    properties: { action: { type: 'string', const: 'unsubscribe' }, channel: channelField, id },
    required: ['action', 'channel']
  }))
  const ping = add('ping', message('ping', 'Application-level ping; replied with pong.', plain(PingAction)))
  const subscribed = add('subscribed', message('subscribed', 'Reply to subscribe.', withProperties(SubscribedFrame, { type: { type: 'string', const: 'subscribed' } })))
  const unsubscribed = add('unsubscribed', message('unsubscribed', 'Reply to unsubscribe.', withProperties(SubscribedFrame, { type: { type: 'string', const: 'unsubscribed' } }, ['epoch', 'offset', 'recovered'])))
  const pong = add('pong', message('pong', 'Reply to ping.', plain(PongFrame)))
  const connected = add('connected', message('connected', 'First frame after the upgrade: the client id and the declared channels.', plain(ConnectedFrame)))
  const error = add('error', message('error', 'A refused frame; the connection stays open. Carries the id of the action it answers.',
    withProperties(ErrorFrame, { code: { type: 'string', enum: [...ERROR_CODES] } })))
  const direct = add('direct', message('direct', 'A message to this client id (fastify.notifications.sendTo): the envelope without channel; with the inbox option, its offset in the client id\'s inbox.',
    withProperties(NotificationFrame, { type: { type: 'string', minLength: 1 }, data: {} }, ['channel', 'broadcast'])))
  const broadcast = add('broadcast', message('broadcast', 'A message to every socket (fastify.notifications.broadcast): the envelope without channel, with broadcast: true.',
    withProperties(NotificationFrame, { type: { type: 'string', minLength: 1 }, data: {}, broadcast: { type: 'boolean', const: true } }, ['channel', 'offset'])))

  const operations: Record<string, unknown> = {
    subscribe: { action: 'send', channel: { $ref: '#/channels/socket' }, summary: 'Subscribe to a channel', messages: [ref(subscribe)], reply: { channel: { $ref: '#/channels/socket' }, messages: [ref(subscribed), ref(error)] } },
    unsubscribe: { action: 'send', channel: { $ref: '#/channels/socket' }, summary: 'Unsubscribe from a channel', messages: [ref(unsubscribe)], reply: { channel: { $ref: '#/channels/socket' }, messages: [ref(unsubscribed), ref(error)] } },
    ping: { action: 'send', channel: { $ref: '#/channels/socket' }, summary: 'Ping', messages: [ref(ping)], reply: { channel: { $ref: '#/channels/socket' }, messages: [ref(pong), ref(error)] } },
    connected: { action: 'receive', channel: { $ref: '#/channels/socket' }, summary: 'Greeting after the upgrade', messages: [ref(connected)] },
    error: { action: 'receive', channel: { $ref: '#/channels/socket' }, summary: 'Errors (INVALID_JSON, INVALID_MESSAGE, UNKNOWN_ACTION...)', messages: [ref(error)] },
    direct: { action: 'receive', channel: { $ref: '#/channels/socket' }, summary: 'Direct messages to this client id', messages: [ref(direct)] },
    broadcast: { action: 'receive', channel: { $ref: '#/channels/socket' }, summary: 'Broadcasts to every socket', messages: [ref(broadcast)] }
  }

  // Presence frames, only when some channel opted in: nothing about presence on a registration without.
  const withPresence = [...config.channels.values()].filter((channel) => channel.presence).map((channel) => channel.name)
  if (withPresence.length > 0) {
    const socket = { $ref: '#/channels/socket' }
    const on = `(channels with presence: ${withPresence.join(', ')})`
    const ask = add('presence.ask', message('presence', `Who is on a channel, or how many (presence_stats), asked by a subscriber ${on}; id and request_id are echoed.`, plain(PresenceAction)))
    const list = add('presence', message('presence', 'Reply to presence: at most presence.maxListed members; truncated and total say what was left out.', plain(PresenceFrame)))
    const counts = add('presence_stats', message('presence_stats', 'Reply to presence_stats: sockets (clients) and distinct client ids (users).', plain(PresenceStatsFrame)))
    operations.presence = { action: 'send', channel: socket, summary: 'Read the presence of a channel', messages: [ref(ask)], reply: { channel: socket, messages: [ref(list), ref(counts), ref(error)] } }
    const joinLeave = [...config.channels.values()].filter((channel) => channel.joinLeave).map((channel) => channel.name)
    if (joinLeave.length > 0) {
      const event = add('join_leave', message('join/leave', `A client id's first socket subscribed (join) or its last one left after the grace (leave), on ${joinLeave.join(', ')}`, plain(JoinLeaveFrame)))
      operations.joinLeave = { action: 'receive', channel: socket, summary: 'Join and leave of members', messages: [ref(event)] }
    }
  }

  // Each declared channel: one message per event type (any type and any data when undeclared).
  const operationKeys = new Set(Object.keys(operations))
  const notificationKeys: string[] = []
  for (const { name, events, history } of config.channels.values()) {
    const envelope = (type: JsonSchema, data: JsonSchema): JsonSchema => withProperties(NotificationFrame, {
      type,
      channel: channelNameSchema(name),
      data
    }, history === null ? ['offset', 'broadcast'] : ['broadcast'])
    const keys = events === null
      ? [add(`${name}.any`, message(`${name}`, `Any notification on ${name}`, envelope({ type: 'string', minLength: 1 }, {}), name))]
      : [...events].map(([type, schema]) => add(`${name}.${type}`, message(type, `${type} on ${name}`, envelope({ type: 'string', const: type }, plain(schema)), `${name} ${type}`)))
    notificationKeys.push(...keys)
    operations[keyFor(`receive.${name}`, operationKeys)] = {
      action: 'receive',
      channel: { $ref: '#/channels/socket' },
      title: name,
      summary: `Notifications on ${name}${isChannelPattern(name) ? ' (a namespace: one channel per identity)' : ''}; after {"action":"subscribe","channel":${JSON.stringify(name)}}`,
      messages: keys.map(ref)
    }
  }

  const clientId = { type: 'string', pattern: CLIENT_ID_PATTERN.source, minLength: 1, maxLength: 128, description: 'the client\'s name for itself; absent: a UUID is made. Malformed: HTTP 400.' }
  const document = {
    asyncapi: '3.1.0',
    info: {
      title: 'fastify-ws-notify notifications',
      version: '1',
      description: 'Wire protocol version 1. Every frame is a UTF-8 text frame holding one JSON object; timestamps are ISO 8601 UTC.' +
        (config.authenticate === null ? '' : ' Connections are authenticated by the application: the identity it returns is the client id.') +
        `\n\nClose codes:\n\n${closeCodeTable('asyncapi')}`
    },
    defaultContentType: 'application/json',
    channels: {
      socket: {
        address: config.path,
        title: 'WebSocket connection',
        description: `GET ${config.path} upgraded to WebSocket. Notification channels are multiplexed on it with subscribe/unsubscribe.`,
        messages: Object.fromEntries(Object.keys(messages).map((key) => [key, { $ref: `#/components/messages/${key}` }])),
        bindings: {
          ws: {
            method: 'GET',
            query: { type: 'object', properties: { client_id: clientId, inbox_since: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}:[0-9]{1,16}$', description: 'with the inbox option: EPOCH:OFFSET of connected.inbox (or the last direct message seen); what was missed follows connected' } } },
            bindingVersion: '0.1.0'
          }
        }
      }
    },
    operations,
    components: { messages }
  }
  if (config.sse) addStream(document, config.path, [connected, subscribed, direct, ...notificationKeys])
  return document
}

/** With `sse: true`: the stream at `${path}/sse`, which carries the server's frames one way. */
function addStream (document: AsyncApiDocument & { channels: Record<string, unknown>, operations: Record<string, unknown> }, path: string, keys: string[]): void {
  const url = path === '/' ? '/sse' : `${path}/sse`
  document.channels.stream = {
    address: url,
    title: 'Server-Sent Events stream',
    description: `GET ${url}?channel=a&channel=b as text/event-stream (server option sse: true): each frame above that the server sends is one event ` +
      '(event: its type, data: its JSON, id: epoch:offset on history channels); resume with Last-Event-ID or last_event_id; ' +
      'a last `close` event carries the close code. Query: channel (repeated), client_id, last_event_id, events=message, heartbeat=event.',
    messages: Object.fromEntries(keys.map((key) => [key, { $ref: `#/components/messages/${key}` }]))
  }
  document.operations.stream = {
    action: 'receive',
    channel: { $ref: '#/channels/stream' },
    summary: 'The greeting, subscribed per channel of the URL, notifications and direct messages, over Server-Sent Events',
    messages: keys.map((key) => ({ $ref: `#/channels/stream/messages/${key}` }))
  }
}

/** The server of the document: a placeholder host, and the scheme (ws or wss) the document was served on. */
function serverOf (protocol: 'ws' | 'wss'): Record<string, unknown> {
  return {
    notifications: {
      host: '{host}',
      protocol,
      description: 'this server: the host (and port) you fetched this document from',
      variables: {
        host: { description: 'the host and port of this server, as clients reach it (never read from a request)', examples: ['localhost:3000'] }
      }
    }
  }
}

/** Serves the document at `${path}/asyncapi.json` when `asyncapi` is on. */
export function registerAsyncApi (fastify: FastifyInstance, config: Config): void {
  if (!config.asyncapi) return
  const document = buildAsyncApi(config)
  const serialize = (protocol: 'ws' | 'wss'): string =>
    JSON.stringify({ asyncapi: document.asyncapi, info: document.info, servers: serverOf(protocol), ...document })
  const bodies = { ws: serialize('ws'), wss: serialize('wss') }
  fastify.get(sideRouteUrl(config.path, 'asyncapi.json'), { ...statsHooks(config) }, async (request: FastifyRequest, reply) => {
    return await reply.type('application/json; charset=utf-8').send(request.protocol === 'https' ? bodies.wss : bodies.ws)
  })
}
