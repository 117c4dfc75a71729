// Whose fault a WebSocket's error is. A peer that breaks the protocol (invalid UTF-8, an unmasked
// frame, a reserved opcode, a frame over maxPayload) or drops the connection is the peer's
// business: logged at debug, never at error with a stack, or any client could fill the server's
// log (3 000 bad connections wrote 3.6 MB of error lines in 1.3 s). Everything else is ours.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'

/** `ws` names the violations it detects in a peer's frames `WS_ERR_*`; it has already sent the close code. */
export function isProtocolViolation (err: Error): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && code.startsWith('WS_ERR_')
}

/** A system error of the TCP socket (ECONNRESET, EPIPE, ETIMEDOUT): the peer went away. */
function isNetworkError (err: Error): boolean {
  return typeof (err as { syscall?: unknown }).syscall === 'string'
}

/**
 * @fastify/websocket's `errorHandler`: it gets both the socket's 'error' events and what a route
 * handler throws. The default logs every one at error level with a stack. A peer's error is
 * logged and counted by the connection's own 'error' listener (connection.ts); here only a
 * handler's own failure is an error. Either way the socket is cut, as the default does.
 */
export function onWebSocketError (this: FastifyInstance, err: Error, socket: WebSocket, request: FastifyRequest): void {
  if (!isProtocolViolation(err) && !isNetworkError(err)) {
    request.log.error({ err }, 'fastify-ws-notify: unexpected error on a WebSocket')
  }
  socket.terminate()
}
