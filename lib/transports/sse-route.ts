// The Server-Sent Events route, `GET ${path}/sse?channel=a&channel=b`: for networks that break
// WebSocket upgrades. The same checks as the WebSocket route (origin, limits, client_id,
// authenticate), every channel checked (declared, authorize, subscription limit) before the
// stream starts, so a refusal is an HTTP status; then the `connected` greeting, one `subscribed`
// event per channel (with its replay on resume, history.ts) and the hub's messages as events.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { randomUUID } from 'node:crypto'
import type { Config } from '../core/config-types'
import type { Hub } from '../core/hub'
import type { Auth } from './auth'
import type { ChannelRegistry } from '../core/channels'
import { subscribeWithHistory, type HistoryStore, type ResumePosition } from '../core/history'
import { encodeMessage } from '../core/sender'
import { createOriginHook } from './origin'
import { channelNameTooLong, connectionLimitReached, createClientLimitHook, createConnectionLimitHook, refuseOverLimit } from './limits'
import { checkUpgrade } from './routes'
import { SseEvents, SsePeer, SseStream } from './sse'
import { Lifecycle, type SocketContext } from '../core/lifecycle'
import type { PresenceService } from '../core/presence-service'
import { parseInboxSince, type InboxRecovery, type InboxStore } from '../core/inbox'

export interface SseRouteContext {
  readonly config: Config
  readonly hub: Hub
  readonly auth: Auth
  readonly registry: ChannelRegistry
  readonly history: HistoryStore
  /** null when no channel has presence. */
  readonly presence: PresenceService | null
  /** Direct messages kept per client id (inbox.ts); null without `inbox`. */
  readonly inbox?: InboxStore | null
  isClosing (): boolean
}

interface SseQuery {
  channel?: unknown
  last_event_id?: unknown
  events?: unknown
  heartbeat?: unknown
  inbox_since?: unknown
}

/** Where a reader resumes: one position (`epoch:offset`) or one per channel (`a=epoch:offset&b=...`). */
export interface LastEventId {
  readonly single: ResumePosition | null
  readonly byChannel: ReadonlyMap<string, ResumePosition>
}

/** A position no history holds: a malformed one still asks to resume, and is answered recovered:false. */
const UNKNOWN_POSITION: ResumePosition = Object.freeze({ epoch: '', offset: 0 })

function readPosition (value: string): ResumePosition {
  // An epoch is base64url (no ':'); the offset follows the last ':'.
  const colon = value.lastIndexOf(':')
  const offset = Number(value.slice(colon + 1))
  if (colon < 1 || colon > 64 || !Number.isSafeInteger(offset) || offset < 0) return UNKNOWN_POSITION
  return { epoch: value.slice(0, colon), offset }
}

/** Reads Last-Event-ID (or `?last_event_id=`); null when the reader does not resume. */
export function readLastEventId (value: unknown): LastEventId | null {
  if (typeof value !== 'string' || value === '') return null
  if (!value.includes('=')) return { single: readPosition(value), byChannel: new Map() }
  const byChannel = new Map<string, ResumePosition>()
  for (const [channel, position] of new URLSearchParams(value)) byChannel.set(channel, readPosition(position))
  return { single: null, byChannel }
}

function refuse (reply: FastifyReply, status: number, code: string, message: string, extra?: object) {
  return reply.code(status).send({ error: status === 403 ? 'Forbidden' : 'Bad Request', code, message, ...extra })
}

/** The requested channels, once each; a string when one of them is not a declared channel. */
function readChannels (registry: ChannelRegistry, value: unknown): string[] | { invalid: string } {
  const list: unknown[] = value === undefined ? [] : Array.isArray(value) ? value : [value]
  const channels = new Set<string>()
  for (const channel of list) {
    if (typeof channel !== 'string' || channelNameTooLong(channel) || !registry.has(channel)) {
      return { invalid: String(channel).slice(0, 255) }
    }
    channels.add(channel)
  }
  return [...channels]
}

export function registerSseRoute (fastify: FastifyInstance, context: SseRouteContext): void {
  const { config, hub, auth, registry, history } = context
  const events = new SseEvents(history)
  // The `hooks` option hears streams as it hears sockets (lifecycle.ts).
  const lifecycle = config.hooks === null ? null : new Lifecycle(config.hooks, fastify.log)
  const url = config.path === '/' ? '/sse' : `${config.path}/sse`

  async function authorizeAll (identity: ReturnType<Auth['identityOf']>, channels: string[], request: FastifyRequest): Promise<string | null> {
    for (const channel of channels) {
      const declared = registry.declarationOf(channel)
      let allowed: boolean
      try {
        allowed = await auth.authorize(identity, channel, declared === channel ? undefined : declared, request)
      } catch (err) {
        request.log.error({ err }, 'fastify-ws-notify: authorize failed; the SSE stream is refused (HTTP 403)')
        allowed = false
      }
      if (!allowed) return channel
    }
    return null
  }

  // Checks in the WebSocket route's order: origin (403), server limit (503), client_id (400),
  // authenticate (401), the per-client limit (503); then channels (400), authorize (403).
  fastify.get(url, {
    onRequest: [createOriginHook(config.allowedOrigins, fastify.log, config.allowedHosts, 'Server-Sent Events request'), createConnectionLimitHook(config, hub)],
    preValidation: [checkUpgrade.bind(context), ...(auth.hook === null ? [] : [auth.hook]),
      createClientLimitHook(config, hub, (request) => auth.clientIdOf(request))]
  }, async (request, reply) => {
    const query = request.query as SseQuery
    const channels = readChannels(registry, query.channel)
    if (!Array.isArray(channels)) {
      return refuse(reply, 400, 'INVALID_CHANNEL', `Invalid channel: ${channels.invalid}`, { available_channels: registry.names })
    }
    if (channels.length > config.maxSubscriptionsPerConnection) {
      return refuse(reply, 400, 'TOO_MANY_SUBSCRIPTIONS',
        `Subscription limit reached: at most ${config.maxSubscriptionsPerConnection} channels per connection`)
    }
    const clientId = auth.clientIdOf(request) ?? randomUUID()
    const identity = auth.identityOf(request, clientId)
    const forbidden = await authorizeAll(identity, channels, request)
    if (forbidden !== null) return refuse(reply, 403, 'FORBIDDEN', `Not allowed to subscribe to ${forbidden}`)
    const full = channels.find((channel) => context.presence?.tracker.full(channel, clientId) === true)
    if (full !== undefined) {
      return reply.code(503).send({ error: 'Service Unavailable', code: 'CHANNEL_FULL', message: `Channel ${full} has its presence.maxMembers members: no new member now` })
    }
    const wanted: readonly string[] = channels
    // A broker reads a namespace channel's history on first use, before any replay is answered.
    try {
      await Promise.all(channels.map(async (channel) => await history.load?.(channel)))
    } catch (err) {
      request.log.warn({ err }, 'fastify-ws-notify: a channel\'s history could not be read; the stream is refused (503 HISTORY_UNAVAILABLE)')
      return reply.code(503).send({ error: 'Service Unavailable', code: 'HISTORY_UNAVAILABLE', message: 'a channel\'s history cannot be read now; try again' })
    }
    const inbox = context.inbox ?? null
    if (inbox === null) return start(undefined)
    // The inbox is read (a broker: asynchronously) and the stream joins the hub in the step that
    // answers it, as on a WebSocket (connection.ts).
    await new Promise<void>((resolve) => {
      inbox.recover(clientId, parseInboxSince(query.inbox_since) ?? undefined, (recovery) => {
        start(recovery)
        resolve()
      }, (err) => {
        request.log.warn({ err }, 'fastify-ws-notify: the inbox could not be read; the stream is refused (503)')
        reply.code(503).send({ error: 'Service Unavailable', message: 'the inbox cannot be read now; try again' })
        resolve()
      })
    })

    /** Starts the stream: the greeting (with the inbox's replay), then each channel's `subscribed`. */
    function start (recovery: InboxRecovery | undefined): void {
      // authorize (or the inbox) may have taken a while: the reader may be gone, the server closing, the limits full.
      if (request.raw.destroyed) return
      if (context.isClosing()) {
        reply.code(503).send({ error: 'Service Unavailable', message: 'server is shutting down' })
        return
      }
      const over = connectionLimitReached(config, hub, clientId)
      if (over !== null) {
        refuseOverLimit(reply, over)
        return
      }

      const header = request.headers['last-event-id']
      const resume = readLastEventId(typeof header === 'string' && header !== '' ? header : query.last_event_id)
      const historyChannels = wanted.filter((channel) => history.has(channel)).length
      reply.hijack()
      const response = reply.raw
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // Proxies that buffer responses (nginx) would hold events back.
        'x-accel-buffering': 'no'
      })
      const stream = new SseStream(response, events, { named: query.events !== 'message', pingEvent: query.heartbeat === 'event', historyChannels })
      const peer = new SsePeer(stream, clientId, identity)
      const hookContext: SocketContext | null = lifecycle === null ? null : Object.freeze({ clientId, identity, request })
      stream.once('close', () => {
        hub.remove(peer)
        if (hookContext !== null) lifecycle?.disconnect(hookContext, stream.closeCode, stream.closeReason)
      })
      hub.add(peer)
      // The WebSocket greeting, and what a reader of a stream needs besides: its transport, and
      // how often a heartbeat comes (a reader that sees none for longer may call the stream dead).
      const greeting: Record<string, unknown> = {
        type: 'connected',
        client_id: clientId,
        available_channels: registry.names,
        transport: 'sse',
        heartbeat_interval: config.heartbeatInterval,
        timestamp: new Date().toISOString()
      }
      if (recovery === undefined) {
        hub.reply(peer, encodeMessage(JSON.stringify(greeting)))
      } else {
        const { epoch, offset, recovered } = recovery
        greeting.inbox = recovered === undefined ? { epoch, offset } : { epoch, offset, recovered }
        hub.replyWithReplay(peer, encodeMessage(JSON.stringify(greeting)), recovery.messages)
        stream.flush()
      }
      if (hookContext !== null) lifecycle?.connect(hookContext)
      for (const channel of wanted) {
        const since = resume === null || !history.has(channel)
          ? undefined
          : resume.single ?? resume.byChannel.get(channel)
        subscribeWithHistory(hub, history, peer, channel, since, undefined)
        stream.flush()
        // Not joined when the reply and its replay were over the slow-consumer bound.
        if (hookContext !== null && peer.channels.has(channel)) lifecycle?.subscribe(hookContext, channel)
      }
    }
  })
}
