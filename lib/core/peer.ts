// What the hub, the heartbeat and shutdown need of one peer's socket, whichever transport carries
// it: a `ws` WebSocket satisfies it as it is; an SSE stream (sse.ts) implements it over an HTTP
// response. Fan-out, sendTo, disconnect, the slow-consumer bound and stats treat both alike.

/** One outbound message (made once by sender.ts's encodeMessage): its JSON text as bytes, and the whole text frame around them. */
export interface EncodedMessage {
  /** The JSON text: a view into `frame`, after the header. */
  readonly bytes: Buffer
  readonly frame: Buffer
}

/** The ready states, numbered as WebSocket numbers them. */
export const PeerState = Object.freeze({ CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const)

export interface PeerSocket {
  readonly readyState: number
  readonly OPEN: number
  readonly CLOSED: number
  /** Bytes written and not yet read by the peer's side of the connection. */
  readonly bufferedAmount: number
  send (data: Buffer, options: { binary: boolean }): void
  /** Starts an orderly close; the socket emits `close` once done. */
  close (code: number, reason: string): void
  /** Ends the connection now. */
  terminate (): void
  /** A liveness probe (a WebSocket ping; a comment on an SSE stream). */
  ping (): void
  once (event: 'close', listener: () => void): unknown
}

/**
 * A peer that takes whole encoded messages rather than WebSocket frames (an SSE stream): the
 * sender hands it the message, and it encodes its own framing once per message.
 */
export interface MessagePeer {
  write (message: EncodedMessage): void
  /** What its bytes are written to: conflation.ts reads its need-drain flag and waits for 'drain'. */
  readonly output: Drainable
}

/** A writable's backpressure signal: a TCP socket or an HTTP response. */
export interface Drainable {
  readonly writableNeedDrain: boolean
  once (event: 'drain', listener: () => void): unknown
}
