// One socket's life: the `connected` greeting, each inbound frame dispatched to its action, and
// cleanup when the socket closes or fails. Frames are parsed in protocol.ts; fan-out is in hub.ts.
import type { FastifyBaseLogger } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import { randomUUID } from 'node:crypto'
import type { ChannelRegistry } from './channels'
import type { Config } from './options'
import { Connection, type Hub } from './hub'
import { encodeMessage } from './sender'
import { CloseCode, parseClientFrame, type ErrorCode, type RequestId } from './protocol'

export interface ConnectionContext {
  readonly config: Config
  readonly hub: Hub
  readonly registry: ChannelRegistry
  readonly log: FastifyBaseLogger
}

function send (hub: Hub, connection: Connection, frame: object): void {
  hub.reply(connection, encodeMessage(JSON.stringify(frame)))
}

function sendError (hub: Hub, connection: Connection, code: ErrorCode, message: string, id: RequestId | undefined, extra?: object): void {
  send(hub, connection, { type: 'error', code, message, ...extra, id, timestamp: new Date().toISOString() })
}

/** Reads one inbound frame and answers it. Never throws: a bad frame gets an error frame. */
function onFrame (context: ConnectionContext, connection: Connection, data: RawData, isBinary: boolean): void {
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
  if (!registry.has(channel)) {
    sendError(hub, connection, 'INVALID_CHANNEL', `Invalid channel: ${channel.slice(0, 255)}`, frame.id,
      { available_channels: registry.names })
    return
  }
  if (frame.action === 'subscribe') hub.subscribe(connection, channel)
  else hub.unsubscribe(connection, channel)
  send(hub, connection, { type: frame.action === 'subscribe' ? 'subscribed' : 'unsubscribed', channel, timestamp, id: frame.id })
}

/** The WebSocket route handler: registers the socket with the hub and wires its events. */
export function createConnectionHandler (context: ConnectionContext) {
  const { hub, registry, log } = context
  return function onConnection (ws: WebSocket, clientId: string | undefined): void {
    const connection = new Connection(ws, clientId ?? randomUUID())
    hub.add(connection)
    ws.on('message', (data, isBinary) => {
      try {
        onFrame(context, connection, data, isBinary)
      } catch (err) {
        // A bug of ours on one socket closes that socket, never the process.
        log.error({ err }, 'fastify-ws-notify: unexpected error handling a frame')
        connection.ws.close(CloseCode.INTERNAL_ERROR, 'internal error')
      }
    })
    ws.on('pong', () => {
      connection.lastSeenAt = Date.now()
      connection.awaitingPong = false
    })
    ws.on('close', () => hub.remove(connection))
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
