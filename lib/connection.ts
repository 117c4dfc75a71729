// One socket's life: the `connected` greeting, each inbound frame dispatched to its action, and
// cleanup when the socket closes or fails. Frames are parsed in protocol.ts; fan-out is in hub.ts.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import { randomUUID } from 'node:crypto'
import type { ChannelRegistry } from './channels'
import type { Config } from './options'
import { Connection, type Hub } from './hub'
import { encodeMessage } from './sender'
import { subscribeWithHistory, type HistoryStore } from './history'
import { CloseCode, parseClientFrame, type ErrorCode, type RequestId } from './protocol'
import type { Auth } from './auth'
import type { Identity } from '../types/index'
import { channelNameTooLong, connectionLimitReached, subscriptionLimitReached } from './limits'
import { InboundRateLimiter, type RateVerdict } from './rate-limit'

export interface ConnectionContext {
  readonly config: Config
  readonly hub: Hub
  readonly registry: ChannelRegistry
  readonly history: HistoryStore
  readonly auth: Auth
  readonly log: FastifyBaseLogger
}

/** Who is on the other end of a socket, for `authorize`. */
interface Peer {
  readonly identity: Identity
  readonly request: FastifyRequest
}

/** Frames waiting while an async `authorize` is pending on their socket; more are RATE_LIMITED. */
const MAX_PENDING_FRAMES = 128

function send (hub: Hub, connection: Connection, frame: object): void {
  hub.reply(connection, encodeMessage(JSON.stringify(frame)))
}

function sendError (hub: Hub, connection: Connection, code: ErrorCode, message: string, id: RequestId | undefined, extra?: object): void {
  send(hub, connection, { type: 'error', code, message, ...extra, id, timestamp: new Date().toISOString() })
}

/**
 * Reads one inbound frame and answers it. Never throws: a bad frame gets an error frame. Returns a
 * promise only while an async `authorize` decides; the socket's next frames wait for it.
 */
function onFrame (context: ConnectionContext, connection: Connection, data: RawData, isBinary: boolean, peer: Peer): Promise<void> | undefined {
  const { hub, registry } = context
  connection.lastSeenAt = Date.now()
  if (isBinary) {
    sendError(hub, connection, 'INVALID_MESSAGE', 'Binary frames are not accepted: send JSON text', undefined)
    return
  }
  const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
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
  if (frame.action === 'subscribe') {
    // Reply, replay (resume or latest) and join in one synchronous step: see history.ts.
    const join = (): void => subscribeWithHistory(hub, context.history, connection, channel, frame.since, frame.id)
    // A channel the socket already holds grants nothing new: no limit, no authorize.
    if (connection.channels.has(channel)) {
      join()
      return
    }
    if (subscriptionLimitReached(context.config, connection, channel)) {
      sendError(hub, connection, 'TOO_MANY_SUBSCRIPTIONS',
        `Subscription limit reached: at most ${context.config.maxSubscriptionsPerConnection} channels per connection`, frame.id)
      return
    }
    const forbid = (): void => sendError(hub, connection, 'FORBIDDEN', `Not allowed to subscribe to ${channel}`, frame.id)
    const declared = registry.declarationOf(channel)
    const allowed = context.auth.authorize(peer.identity, channel, declared === channel ? undefined : declared, peer.request)
    if (typeof allowed === 'boolean') {
      if (allowed) join()
      else forbid()
      return
    }
    return allowed.then((ok) => ok ? join() : forbid(), (err: unknown) => {
      context.log.error({ err }, 'fastify-ws-notify: authorize failed; the subscribe is refused (FORBIDDEN)')
      forbid()
    })
  }
  hub.unsubscribe(connection, channel)
  send(hub, connection, { type: 'unsubscribed', channel, timestamp, id: frame.id })
}

/** The WebSocket route handler: registers the socket with the hub and wires its events. */
export function createConnectionHandler (context: ConnectionContext) {
  const { hub, registry, log, config } = context
  return function onConnection (ws: WebSocket, clientId: string | undefined, request: FastifyRequest): void {
    // Two upgrades may both pass the HTTP 503 check before either socket exists: 1013 here.
    if (connectionLimitReached(config, hub, clientId) !== null) {
      ws.on('error', () => {})
      ws.close(CloseCode.TRY_AGAIN_LATER, 'connection limit reached')
      return
    }
    const connection = new Connection(ws, clientId ?? randomUUID())
    const peer: Peer = { identity: context.auth.identityOf(request, connection.clientId), request }
    hub.add(connection)
    const limiter = config.rateLimit === false ? null : new InboundRateLimiter(config.rateLimit, Date.now())
    // Frames of one socket are answered in the order they came, even across an async authorize.
    let pending: Promise<void> | null = null
    const backlog: Array<{ data: RawData, isBinary: boolean }> = []
    const fail = (err: unknown): void => {
      // A bug of ours on one socket closes that socket, never the process.
      log.error({ err }, 'fastify-ws-notify: unexpected error handling a frame')
      backlog.length = 0
      connection.ws.close(CloseCode.INTERNAL_ERROR, 'internal error')
    }
    const handle = (data: RawData, isBinary: boolean): void => {
      try {
        const waiting = onFrame(context, connection, data, isBinary, peer)
        if (waiting !== undefined) pending = waiting.then(drain, (err: unknown) => { fail(err); drain() })
      } catch (err) {
        fail(err)
      }
    }
    const drain = (): void => {
      pending = null
      for (let next = backlog.shift(); next !== undefined; next = isWaiting() ? undefined : backlog.shift()) {
        handle(next.data, next.isBinary)
      }
    }
    const isWaiting = (): boolean => pending !== null
    const refuse = (verdict: Exclude<RateVerdict, 'accept'>, why: string): void => {
      if (verdict === 'close') {
        backlog.length = 0
        hub.remove(connection)
        hub.close(connection, CloseCode.POLICY, 'rate limit exceeded')
        return
      }
      sendError(hub, connection, 'RATE_LIMITED', why, undefined)
    }
    ws.on('message', (data, isBinary) => {
      if (ws.readyState !== ws.OPEN) return
      const now = Date.now()
      connection.lastSeenAt = now
      // Checked before parsing, so a flood costs no parse; the refused frame is not read (no id).
      const verdict = limiter === null ? 'accept' : limiter.check(now)
      if (verdict !== 'accept') {
        const { perSecond, burst } = config.rateLimit as { perSecond: number, burst: number }
        return refuse(verdict, `Too many frames: at most ${burst} at once and ${perSecond} per second; ` +
          `this frame was not processed, and ${burst} refusals in a row close the connection (1008)`)
      }
      if (!isWaiting()) handle(data, isBinary)
      else if (backlog.length < MAX_PENDING_FRAMES) backlog.push({ data, isBinary })
      else refuse('refuse', `Too many frames waiting for an earlier subscribe to be authorized (at most ${MAX_PENDING_FRAMES})`)
    })
    ws.on('pong', () => {
      connection.lastSeenAt = Date.now()
      connection.awaitingPong = false
    })
    ws.on('close', () => {
      backlog.length = 0
      hub.remove(connection)
    })
    ws.on('error', (err) => {
      log.debug({ err }, 'fastify-ws-notify: socket error')
      hub.remove(connection)
    })
    send(hub, connection, {
      type: 'connected',
      client_id: connection.clientId,
      available_channels: registry.names,
      timestamp: new Date().toISOString()
    })
  }
}
