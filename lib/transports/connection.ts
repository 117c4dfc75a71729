// One socket's life: the `connected` greeting, each inbound frame dispatched to its action, and
// cleanup when the socket closes or fails. Frames are parsed in protocol.ts; fan-out is in hub.ts.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import { randomUUID } from 'node:crypto'
import type { ChannelRegistry } from '../core/channels'
import type { Config } from '../core/config-types'
import { Connection, type Hub } from '../core/hub'
import { encodeMessage } from '../core/sender'
import { subscribeWithHistory, type HistoryStore } from '../core/history'
import { CloseCode, parseClientFrame, type ErrorCode, type RequestId } from '../core/protocol'
import type { Auth } from './auth'
import type { Identity } from '../../types/index'
import { channelNameTooLong, connectionLimitReached, subscriptionLimitReached } from './limits'
import { InboundRateLimit, type RateState, type RateVerdict } from './rate-limit'
import { isProtocolViolation } from './socket-errors'
import { answerPresence } from './presence-actions'
import type { PresenceService } from '../core/presence-service'
import { Lifecycle, type SocketContext } from '../core/lifecycle'
import { parseInboxSince, type InboxRecovery, type InboxStore } from '../core/inbox'

export interface ConnectionOptions {
  readonly config: Config
  readonly hub: Hub
  readonly registry: ChannelRegistry
  readonly history: HistoryStore
  readonly auth: Auth
  readonly log: FastifyBaseLogger
  /** null when no channel has presence. */
  readonly presence: PresenceService | null
  /** Direct messages kept per client id (inbox.ts); null without `inbox`. */
  readonly inbox?: InboxStore | null
}

/** What every socket of one registration shares: one per registration, referenced by each socket. */
interface ConnectionContext extends ConnectionOptions {
  /** null when rateLimit is false. */
  readonly rateLimit: InboundRateLimit | null
  /** null without `hooks`. */
  readonly lifecycle: Lifecycle | null
}

/**
 * Frames waiting while an async `authorize` is pending on their socket: at most this many, and at
 * most maxPayload bytes in all (one frame always fits); more are RATE_LIMITED.
 */
const MAX_PENDING_FRAMES = 128

function send (hub: Hub, connection: Connection, frame: object): void {
  hub.reply(connection, encodeMessage(JSON.stringify(frame)))
}

/** One inbound frame's bytes, whichever shape ws delivered them in. */
function bytesOf (data: RawData): Buffer {
  return Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
}

function sendError (hub: Hub, connection: Connection, code: ErrorCode, message: string, id: RequestId | undefined, extra?: object): void {
  send(hub, connection, { type: 'error', code, message, ...extra, id, timestamp: new Date().toISOString() })
}

/**
 * Reads one inbound frame and answers it. Never throws: a bad frame gets an error frame. Returns a
 * promise only while an async `authorize` decides; the socket's next frames wait for it.
 */
function onFrame (connection: Session, data: RawData, isBinary: boolean): Promise<void> | undefined {
  const { context } = connection
  const { hub, registry } = context
  connection.lastSeenAt = Date.now()
  if (isBinary) {
    sendError(hub, connection, 'INVALID_MESSAGE', 'Binary frames are not accepted: send JSON text', undefined)
    return
  }
  const bytes = bytesOf(data)
  if (bytes.length > context.config.maxPayload) {
    // Only reached when the app registered @fastify/websocket itself with a larger maxPayload.
    connection.ws.close(CloseCode.TOO_BIG, 'frame too large')
    return
  }
  const parsed = parseClientFrame(bytes.toString('utf8'))
  if (!parsed.ok) {
    sendError(hub, connection, parsed.code, parsed.message, parsed.id)
    return
  }
  const frame = parsed.frame
  const timestamp = new Date().toISOString()
  if (frame.action === 'ping') {
    send(hub, connection, { type: 'pong', timestamp, id: frame.id })
    return
  }
  const channel = frame.channel
  if (channelNameTooLong(channel) || !registry.has(channel)) {
    sendError(hub, connection, 'INVALID_CHANNEL', `Invalid channel: ${channel.slice(0, 255)}`, frame.id,
      { available_channels: registry.names })
    return
  }
  if (frame.action === 'presence' || frame.action === 'presence_stats') return answerPresence(context, connection, frame)
  if (frame.action === 'subscribe') {
    // Reply, replay (resume or latest) and join in one synchronous step: see history.ts. A broker
    // may first have to read the channel's history (a namespace channel's, on first use here).
    const join = (after?: () => void): Promise<void> | undefined => {
      const subscribe = (): void => {
        subscribeWithHistory(hub, context.history, connection, channel, frame.since, frame.id)
        after?.()
      }
      const loading = context.history.load?.(channel)
      if (loading === undefined) {
        subscribe()
        return
      }
      return loading.then(subscribe, (err: unknown) => {
        context.log.warn({ err, channel }, 'fastify-ws-notify: the channel\'s history could not be read; the subscribe is refused (HISTORY_UNAVAILABLE)')
        sendError(hub, connection, 'HISTORY_UNAVAILABLE', `The history of ${channel} cannot be read now; try again`, frame.id)
      })
    }
    // A channel the socket already holds grants nothing new: no limit, no authorize.
    if (connection.channels.has(channel)) return join()
    const joinNew = (): Promise<void> | undefined => join(() => {
      // Not joined when the reply and its replay were over the slow-consumer bound.
      if (context.lifecycle !== null && connection.channels.has(channel)) context.lifecycle.subscribe(connection.hookContext as SocketContext, channel)
    })
    if (subscriptionLimitReached(context.config, connection, channel)) {
      sendError(hub, connection, 'TOO_MANY_SUBSCRIPTIONS',
        `Subscription limit reached: at most ${context.config.maxSubscriptionsPerConnection} channels per connection`, frame.id)
      return
    }
    if (context.presence?.tracker.full(channel, connection.clientId) === true) {
      sendError(hub, connection, 'CHANNEL_FULL', `Channel ${channel} has its presence.maxMembers members: no new member now`, frame.id)
      return
    }
    const forbid = (): void => sendError(hub, connection, 'FORBIDDEN', `Not allowed to subscribe to ${channel}`, frame.id)
    const declared = registry.declarationOf(channel)
    const allowed = context.auth.authorize(connection.identity, channel, declared === channel ? undefined : declared, connection.request)
    if (typeof allowed === 'boolean') {
      if (allowed) return joinNew()
      forbid()
      return
    }
    return allowed.then((ok) => ok ? joinNew() : forbid(), (err: unknown) => {
      context.log.error({ err }, 'fastify-ws-notify: authorize failed; the subscribe is refused (FORBIDDEN)')
      forbid()
    })
  }
  const held = connection.channels.has(channel)
  hub.unsubscribe(connection, channel)
  send(hub, connection, { type: 'unsubscribed', channel, timestamp, id: frame.id })
  if (held) context.lifecycle?.unsubscribe(connection.hookContext as SocketContext, channel)
}

/**
 * One socket's state beyond the hub's, on the same object: who the peer is, its rate limit, and
 * frames waiting for an async authorize. Its listeners are module-level functions that find it
 * through the socket (kSession): an idle socket costs this one object, no closures.
 */
class Session extends Connection<WebSocket> implements RateState {
  readonly context: ConnectionContext
  /** Who is on the other end, and the upgrade request: both go to `authorize`. */
  readonly identity: Identity
  readonly request: FastifyRequest
  rateFullAt = 0
  refusedInARow = 0
  /** Set while an async `authorize` decides; the socket's next frames wait in `backlog`. */
  pending: Promise<void> | null = null
  /** Created on the first frame that has to wait. */
  backlog: Array<{ data: Buffer, isBinary: boolean }> | null = null
  /** Bytes of the frames in `backlog`; counted from 0 whenever a backlog is created. */
  backlogBytes = 0
  /** What the lifecycle hooks are given; null without hooks. */
  readonly hookContext: SocketContext | null
  /** Joined the hub and sent `connected` (at once, or once its inbox was read). */
  greeted = false

  constructor (context: ConnectionContext, ws: WebSocket, clientId: string, request: FastifyRequest) {
    super(ws, clientId)
    this.context = context
    this.request = request
    this.identity = context.auth.identityOf(request, clientId)
    this.hookContext = context.lifecycle === null ? null : Object.freeze({ clientId, identity: this.identity, request })
  }
}

const kSession = Symbol('fastify-ws-notify.session')
type SessionSocket = WebSocket & { [kSession]: Session }

// A bug of ours on one socket closes that socket, never the process.
function fail (session: Session, err: unknown): void {
  session.context.log.error({ err }, 'fastify-ws-notify: unexpected error handling a frame')
  session.backlog = null
  session.ws.close(CloseCode.INTERNAL_ERROR, 'internal error')
}

function handle (session: Session, data: RawData, isBinary: boolean): void {
  try {
    const waiting = onFrame(session, data, isBinary)
    if (waiting !== undefined) {
      session.pending = waiting.then(() => drain(session), (err: unknown) => { fail(session, err); drain(session) })
    }
  } catch (err) {
    fail(session, err)
  }
}

// Frames of one socket are answered in the order they came, even across an async authorize.
function drain (session: Session): void {
  session.pending = null
  // Re-read each turn: a frame that fails or closes the socket drops the rest.
  for (let next = unpark(session); next !== undefined; next = session.pending === null ? unpark(session) : undefined) {
    handle(session, next.data, next.isBinary)
  }
}

/**
 * Keeps a frame that arrived while an async authorize decides, within the backlog's bounds (see
 * MAX_PENDING_FRAMES). A copy: a frame ws hands over may be a view into the whole TCP chunk it
 * came in, and what is parked must hold only its own bytes for the byte bound to be true.
 */
function park (session: Session, data: RawData, isBinary: boolean): void {
  const bytes = bytesOf(data)
  const maxPayload = session.context.config.maxPayload
  if (session.backlog === null) {
    session.backlog = []
    session.backlogBytes = 0
  }
  const backlog = session.backlog
  if (backlog.length > 0 && (backlog.length >= MAX_PENDING_FRAMES || session.backlogBytes + bytes.length > maxPayload)) {
    refuse(session, 'refuse', 'Too many frames waiting for an earlier subscribe to be authorized ' +
      `(at most ${MAX_PENDING_FRAMES} frames and ${maxPayload} bytes)`)
    return
  }
  backlog.push({ data: Buffer.from(bytes), isBinary })
  session.backlogBytes += bytes.length
}

function unpark (session: Session): { data: Buffer, isBinary: boolean } | undefined {
  const next = session.backlog?.shift()
  if (next !== undefined) session.backlogBytes -= next.data.length
  return next
}

function refuse (session: Session, verdict: Exclude<RateVerdict, 'accept'>, why: string): void {
  const { hub } = session.context
  if (verdict === 'close') {
    session.backlog = null
    hub.remove(session)
    hub.close(session, CloseCode.POLICY, 'rate limit exceeded')
    return
  }
  sendError(hub, session, 'RATE_LIMITED', why, undefined)
}

// The socket's listeners: `this` is the socket (EventEmitter calls them so).
function onMessage (this: WebSocket, data: RawData, isBinary: boolean): void {
  if (this.readyState !== this.OPEN) return
  const session = (this as SessionSocket)[kSession]
  const { config, rateLimit } = session.context
  const now = Date.now()
  session.lastSeenAt = now
  // Checked before parsing, so a flood costs no parse; the refused frame is not read (no id).
  const verdict = rateLimit === null ? 'accept' : rateLimit.check(session, now)
  if (verdict !== 'accept') {
    const { perSecond, burst } = config.rateLimit as { perSecond: number, burst: number }
    return refuse(session, verdict, `Too many frames: at most ${burst} at once and ${perSecond} per second; ` +
      `this frame was not processed, and ${burst} refusals in a row close the connection (1008)`)
  }
  if (session.pending === null) handle(session, data, isBinary)
  else park(session, data, isBinary)
}

function onPong (this: WebSocket): void {
  const session = (this as SessionSocket)[kSession]
  session.lastSeenAt = Date.now()
  session.awaitingPong = false
}

function onClose (this: WebSocket, code: number, reason: Buffer): void {
  const session = (this as SessionSocket)[kSession]
  session.backlog = null
  session.context.hub.remove(session)
  // Closed while its inbox was read: never greeted, so no onConnect was heard either.
  if (session.greeted) session.context.lifecycle?.disconnect(session.hookContext as SocketContext, code, reason.toString())
}

// A peer's protocol violation (ws has already answered it with 1002, 1007 or 1009) is the peer's
// mistake: debug without a stack, and counted (stats: protocol_errors). Anything else the socket
// reports (a write to a peer that went away) is debug too; our own failures are logged by fail().
function onError (this: WebSocket, err: Error): void {
  const session = (this as SessionSocket)[kSession]
  const { hub, log } = session.context
  if (isProtocolViolation(err)) {
    hub.counters.protocolErrors++
    log.debug({ code: (err as Error & { code: string }).code, reason: err.message }, 'fastify-ws-notify: the peer broke the WebSocket protocol; socket closed')
  } else {
    log.debug({ err }, 'fastify-ws-notify: socket error')
  }
  hub.remove(session)
}

function ignoreError (): void {}

/** The WebSocket route handler: registers the socket with the hub and wires its events. */
export function createConnectionHandler (options: ConnectionOptions) {
  const context: ConnectionContext = {
    ...options,
    rateLimit: options.config.rateLimit === false ? null : new InboundRateLimit(options.config.rateLimit),
    lifecycle: options.config.hooks === null ? null : new Lifecycle(options.config.hooks, options.log)
  }
  const { hub, registry, config } = context
  return function onConnection (ws: WebSocket, clientId: string | undefined, request: FastifyRequest): void {
    // Two upgrades may both pass the HTTP 503 check before either socket exists: 1013 here.
    if (connectionLimitReached(config, hub, clientId) !== null) {
      ws.on('error', ignoreError)
      ws.close(CloseCode.TRY_AGAIN_LATER, 'connection limit reached')
      return
    }
    const session = new Session(context, ws, clientId ?? randomUUID(), request)
    ;(ws as SessionSocket)[kSession] = session
    ws.on('message', onMessage)
    ws.on('pong', onPong)
    ws.on('close', onClose)
    ws.on('error', onError)
    const inbox = context.inbox ?? null
    if (inbox === null) return open(session, undefined)
    // Frames that come while a broker reads the inbox wait, as during an async authorize.
    let answered = false
    const since = parseInboxSince((request.query as { inbox_since?: unknown }).inbox_since) ?? undefined
    const recovering = new Promise<void>((resolve) => {
      inbox.recover(session.clientId, since, (recovery) => {
        answered = true
        resolve()
        // Closed while the broker answered: nothing to join.
        if (ws.readyState === ws.OPEN) open(session, recovery)
      }, (err) => {
        answered = true
        resolve()
        context.log.warn({ err }, 'fastify-ws-notify: the inbox could not be read; the socket is closed (1013) so that its client retries')
        ws.close(CloseCode.TRY_AGAIN_LATER, 'inbox unavailable')
      })
    })
    if (!answered) session.pending = recovering.then(() => drain(session))
  }

  /**
   * Joins the hub, greets, and replays the inbox's missed messages right after `connected`: one
   * synchronous step, so a direct message sent meanwhile is either replayed or delivered live.
   */
  function open (session: Session, recovery: InboxRecovery | undefined): void {
    hub.add(session)
    session.greeted = true
    const greeting: Record<string, unknown> = {
      type: 'connected',
      client_id: session.clientId,
      available_channels: registry.names,
      timestamp: new Date().toISOString()
    }
    if (recovery !== undefined) {
      greeting.inbox = recovery.recovered === undefined
        ? { epoch: recovery.epoch, offset: recovery.offset }
        : { epoch: recovery.epoch, offset: recovery.offset, recovered: recovery.recovered }
      hub.replyWithReplay(session, encodeMessage(JSON.stringify(greeting)), recovery.messages)
    } else {
      send(hub, session, greeting)
    }
    context.lifecycle?.connect(session.hookContext as SocketContext)
  }
}
