// Shutdown: every socket gets 1001 and a close handshake; whatever has not finished it within
// closeTimeout is terminated, so one mute peer cannot hold fastify.close(). The same bound holds
// for connections that never became a request or a WebSocket (UnfinishedSockets below).
import { Server as HttpServer, type IncomingMessage } from 'node:http'
import { Server as HttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import type { WebSocket, WebSocketServer } from 'ws'
import type { Hub } from '../core/hub'
import type { PeerSocket } from '../core/peer'
import { CloseCode } from '../core/protocol'

/**
 * Closes the hub's sockets, and `others` (sockets of the WebSocket server outside the hub: other
 * routes' or already failing), with 1001; terminates what is still open after closeTimeout.
 */
export async function closeAllConnections (hub: Hub, closeTimeout: number, others: Iterable<WebSocket> = []): Promise<void> {
  const connections = [...hub.connections]
  const sockets: PeerSocket[] = connections.map((connection) => connection.ws)
  const inHub = new Set<PeerSocket>(sockets)
  for (const ws of others) if (!inHub.has(ws)) sockets.push(ws)
  if (sockets.length === 0) return
  const closed = sockets.map((ws) => new Promise<void>((resolve) => {
    if (ws.readyState === ws.CLOSED) return resolve()
    ws.once('close', () => resolve())
  }))
  for (const connection of connections) {
    // Frames of this tick go out before the close frame.
    hub.flush(connection)
    connection.ws.close(CloseCode.GOING_AWAY, 'server shutting down')
  }
  for (let i = connections.length; i < sockets.length; i++) {
    if (sockets[i].readyState === sockets[i].OPEN) sockets[i].close(CloseCode.GOING_AWAY, 'server shutting down')
  }
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, closeTimeout)
    timer.unref()
  })
  await Promise.race([Promise.all(closed), deadline])
  clearTimeout(timer)
  for (const ws of sockets) if (ws.readyState !== ws.CLOSED) ws.terminate()
  await Promise.all(closed)
}

/**
 * The HTTP server's connections that are neither an HTTP request nor a WebSocket yet: a peer that
 * sent half its headers, or nothing, or an upgrade whose handshake never completes (an
 * authenticate that never answers). server.close() waits for them, and Node ends them only at
 * headersTimeout, checked every 30 s: ~100 s. At shutdown they get closeTimeout to finish, so a
 * request completed in time is still answered (503), then they are cut. A connection that became
 * a request is left to Node and Fastify: in-flight requests finish, idle keep-alive ones close.
 */
export class UnfinishedSockets {
  readonly #sockets = new Set<Socket>()
  readonly #server: HttpServer | HttpsServer | null
  readonly #wss: WebSocketServer
  /** The event that hands over a socket whose `request.socket` is the same object. */
  readonly #acceptEvent: 'connection' | 'secureConnection'
  #timer: NodeJS.Timeout | null = null
  #expired = false

  // Listeners, bound once per registration: no closure per connection.
  // The close listener goes with the tracking: a socket that became a WebSocket keeps nothing of ours.
  readonly #forget = (socket: Socket): void => {
    if (this.#sockets.delete(socket)) socket.off('close', this.#onClose)
  }

  readonly #onClose: (this: Socket) => void
  readonly #onAccept = (socket: Socket): void => {
    if (this.#expired) {
      socket.destroy()
      return
    }
    this.#sockets.add(socket)
    socket.on('close', this.#onClose)
  }

  readonly #onRequest = (request: IncomingMessage): void => { this.#forget(request.socket) }
  readonly #onWebSocket = (_ws: WebSocket, request: IncomingMessage): void => { this.#forget(request.socket) }

  constructor (server: unknown, wss: WebSocketServer) {
    const forget = this.#forget
    this.#onClose = function (this: Socket) { forget(this) }
    // HTTP/1 only: an HTTP/2 request's socket is a proxy of its session, never the accepted socket.
    this.#server = server instanceof HttpServer || server instanceof HttpsServer ? server : null
    this.#acceptEvent = server instanceof HttpsServer ? 'secureConnection' : 'connection'
    this.#wss = wss
    if (this.#server === null) return
    this.#server.on(this.#acceptEvent, this.#onAccept)
    // An upgrade stays unfinished until it becomes a WebSocket, or its refusal destroys it.
    this.#server.on('request', this.#onRequest)
    wss.on('connection', this.#onWebSocket)
  }

  /** Cuts, `timeout` ms from now, every connection still unfinished then; later ones at once. */
  cutAfter (timeout: number): void {
    if (this.#timer !== null || this.#expired) return
    this.#timer = setTimeout(() => {
      this.#expired = true
      for (const socket of this.#sockets) socket.destroy()
      this.#sockets.clear()
    }, timeout)
    this.#timer.unref()
  }

  /** Takes the listeners off (onClose). */
  stop (): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    if (this.#server === null) return
    this.#server.off(this.#acceptEvent, this.#onAccept)
    this.#server.off('request', this.#onRequest)
    this.#wss.off('connection', this.#onWebSocket)
  }
}
