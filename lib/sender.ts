// Outbound frames: each message is encoded into one WebSocket frame once, and the same buffer is
// written to every socket. Writes made within one event-loop tick are coalesced: a socket's
// frames of the tick are queued on it and handed to its TCP socket in one nextTick, so a burst of
// notifications costs one syscall per socket. This is the hot path of fan-out: no
// closures, no per-socket serialization, no per-socket timers.
import { WebSocket } from 'ws'
import type { Duplex } from 'node:stream'

const OPEN = WebSocket.OPEN

// Sender.frame is public on the class (ws 8) but undocumented; feature-detected below.
interface FrameEncoder {
  frame (data: Buffer, options: { fin: boolean, opcode: number, mask: boolean, readOnly: boolean, rsv1: boolean }): Buffer[]
}
const encoder = (WebSocket as unknown as { Sender?: Partial<FrameEncoder> }).Sender
const canEncode = typeof encoder?.frame === 'function'

/** One outbound message: its JSON text as bytes, and (when ws allows it) the whole text frame. */
export interface EncodedMessage {
  readonly bytes: Buffer
  readonly frame: Buffer | null
}

/** Encodes a JSON text once for any number of sockets. */
export function encodeMessage (json: string): EncodedMessage {
  const bytes = Buffer.from(json)
  if (!canEncode) return { bytes, frame: null }
  const parts = (encoder as FrameEncoder).frame(bytes, { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false })
  return { bytes, frame: parts.length === 1 ? parts[0] : Buffer.concat(parts) }
}

/**
 * The raw TCP socket of a ws socket when frames may be written to it directly: ws has no
 * permessage-deflate on it (a deflate socket needs ws's compressor) and exposes `_socket`.
 * null means every write goes through ws.send.
 */
export function directSocketOf (ws: WebSocket): Duplex | null {
  const internals = ws as unknown as { _socket?: Duplex, _sender?: unknown, _extensions?: Record<string, unknown> }
  if (!canEncode || ws.extensions !== '' || internals._sender === undefined) return null
  const socket = internals._socket
  if (socket === undefined || typeof socket.write !== 'function' || typeof socket.cork !== 'function') return null
  return socket
}

/** What the sender needs of a connection. */
export interface Writable {
  readonly ws: WebSocket
  readonly direct: Duplex | null
  /**
   * Frames written in the current tick, not yet handed to the socket: one, several, or none.
   * Being the application's own burst, not a backlog the peer failed to read, they are left out
   * of the slow-consumer check, which reads the socket's queue.
   */
  queued: Buffer | Buffer[] | null
}

export class Sender {
  #queued: Writable[] = []
  readonly #flushAll = (): void => {
    const list = this.#queued
    this.#queued = []
    for (let i = 0; i < list.length; i++) flush(list[i])
  }

  /** Writes one encoded message; false when the socket is not open. */
  write (target: Writable, message: EncodedMessage): boolean {
    const ws = target.ws
    if (ws.readyState !== OPEN) return false
    const frame = message.frame
    if (target.direct === null || frame === null) {
      ws.send(message.bytes, { binary: false })
      return true
    }
    const queued = target.queued
    if (queued === null) {
      target.queued = frame
      if (this.#queued.push(target) === 1) process.nextTick(this.#flushAll)
    } else if (Array.isArray(queued)) queued.push(frame)
    else target.queued = [queued, frame]
    return true
  }

  /** Hands what this tick queued for `target` to its socket now: before a close frame, say. */
  flush (target: Writable): void {
    if (target.direct !== null) flush(target)
  }
}

// One socket's frames of the tick, handed over once the tick's code has run: a single frame is
// one plain write (no cork, no stream buffering: the common case at one notification per tick);
// several are one corked batch, one syscall. A socket that started closing in the meantime gets
// nothing more: its close frame is already out, and nothing may follow it.
function flush (target: Writable): void {
  const queued = target.queued
  if (queued === null) return
  target.queued = null
  const direct = target.direct as Duplex
  if (direct.destroyed || target.ws.readyState !== OPEN) return
  if (!Array.isArray(queued)) {
    direct.write(queued)
    return
  }
  direct.cork()
  for (let i = 0; i < queued.length; i++) direct.write(queued[i])
  direct.uncork()
}
