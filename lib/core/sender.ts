// Outbound frames: each message is encoded into one WebSocket frame once, and the same buffer is
// written to every socket. Writes made within one event-loop tick are coalesced: a socket's
// frames of the tick wait on it and are handed to its TCP socket in one nextTick, as one buffer
// in one write(). Sockets that got the same frames share that buffer (see Run), so a burst to a
// channel is joined once, not once per subscriber. This is the hot path of fan-out: no closures,
// no per-socket serialization, no per-socket timers. With a write window (flushInterval N > 0),
// the frames wait up to N ms instead of a tick, behind one timer for all sockets of the
// registration, so a socket's frames of N ms go out in one write. With the native fan-out
// (native-writes.ts), the sockets that got the same bytes are written by one native call.
import { WebSocket } from 'ws'
import type { Duplex } from 'node:stream'
import type { EncodedMessage, MessagePeer, PeerSocket } from './peer'
import type { NativeWriter } from './native-writes'

const OPEN = WebSocket.OPEN

// Declared in peer.ts (a peer takes it), made here (encodeMessage).
export type { EncodedMessage } from './peer'

/**
 * Encodes a JSON text once, as an unmasked, final text frame (RFC 6455 5.2: a server never
 * masks), for any number of sockets: one buffer, the text written straight into it after the
 * header.
 */
export function encodeMessage (json: string): EncodedMessage {
  const length = Buffer.byteLength(json)
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10
  const frame = Buffer.allocUnsafe(header + length)
  frame[0] = 0x81 // FIN, opcode 1 (text)
  if (header === 2) {
    frame[1] = length
  } else if (header === 4) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(Math.floor(length / 0x100000000), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
  frame.write(json, header, 'utf8')
  return { bytes: frame.subarray(header), frame }
}

/**
 * The raw TCP socket of a ws socket when frames may be written to it directly: ws has no
 * permessage-deflate on it (a deflate socket needs ws's compressor) and exposes `_socket`.
 * null means every write goes through ws.send.
 */
export function directSocketOf (ws: PeerSocket): Duplex | null {
  const internals = ws as unknown as { extensions?: string, _socket?: Duplex, _sender?: unknown }
  if (internals.extensions !== '' || internals._sender === undefined) return null
  const socket = internals._socket
  if (socket === undefined || typeof socket.write !== 'function') return null
  return socket
}

/**
 * The frames a socket got in the current tick, in order: the Run before them plus one frame.
 * Runs are immutable and shared: a channel's fan-out moves each subscriber from its Run to the
 * same next one (`followedBy` remembers the last step taken), so every socket that got the same
 * frames in the same order ends the tick on the same Run, and the Run joins its frames into one
 * buffer once, for all of them. Sockets whose frames differ (other channels, direct messages) simply
 * end on Runs of their own.
 */
export class Run {
  readonly previous: Run | null
  readonly frame: Buffer
  /** The bytes of all its frames. */
  readonly byteLength: number
  #nextFrame: Buffer | null = null
  #next: Run | null = null
  #joined: Buffer | null = null

  constructor (previous: Run | null, frame: Buffer) {
    this.previous = previous
    this.frame = frame
    this.byteLength = previous === null ? frame.length : previous.byteLength + frame.length
  }

  /** This Run followed by `frame`: the same object for every socket that takes the same step. */
  followedBy (frame: Buffer): Run {
    if (this.#nextFrame === frame) return this.#next as Run
    const next = new Run(this, frame)
    this.#nextFrame = frame
    this.#next = next
    return next
  }

  /** All the frames as one buffer, joined on first need. */
  bytes (): Buffer {
    if (this.previous === null) return this.frame
    if (this.#joined === null) {
      const joined = Buffer.allocUnsafe(this.byteLength)
      let end = this.byteLength
      for (let run: Run | null = this; run !== null; run = run.previous) {
        end -= run.frame.length
        run.frame.copy(joined, end)
      }
      this.#joined = joined
    }
    return this.#joined
  }
}

/** What the sender needs of a connection. */
export interface Writable {
  readonly ws: PeerSocket
  readonly direct: Duplex | null
  /** The TCP descriptor of `direct` for the native fan-out (native-writes.ts); -1: never written natively. */
  readonly fd: number
  /** Set on a peer that frames messages itself (SSE); null on a WebSocket. */
  readonly stream: MessagePeer | null
  /**
   * Frames written in the current tick, not yet handed to the socket: one frame, a Run of
   * several, or null. Being the application's own burst, not a backlog the peer failed to read,
   * they are left out of a fan-out's slow-consumer check, which reads the socket's queue; an
   * answer to the peer's own frames counts them too (hub.ts, #admit).
   */
  queued: Buffer | Run | null
}

/** Bytes of the frames written to `target` in this tick and not yet handed to its socket. */
export function queuedBytes (target: Writable): number {
  const queued = target.queued
  return queued === null ? 0 : queued instanceof Run ? queued.byteLength : queued.length
}

export class Sender {
  #queued: Writable[] = []
  /** The tick's latest one-frame Run: where a fan-out moves sockets that had that one frame. */
  #single: Run | null = null
  readonly #flushAll = (): void => {
    const list = this.#queued
    this.#queued = []
    this.#single = null
    this.#window = null
    if (this.#native === null) {
      for (let i = 0; i < list.length; i++) flush(list[i])
    } else {
      this.#flushNatively(list)
    }
  }

  /** The native fan-out, or null: every socket is written through its stream. */
  readonly #native: NativeWriter | null
  // Reused between flushes: the descriptors of one native call, what each write(2) returned.
  #fds = new Int32Array(0)
  #written = new Int32Array(0)

  // The tick's flush with the native fan-out: consecutive sockets that got the same bytes (a
  // channel's fan-out leaves them side by side, on one frame or one shared Run) are written by one
  // native call. A socket whose stream still holds bytes, or that is not plain TCP, goes through its
  // stream: its bytes must follow the ones queued there.
  #flushNatively (list: Writable[]): void {
    if (this.#fds.length < list.length) {
      this.#fds = new Int32Array(list.length)
      this.#written = new Int32Array(list.length)
    }
    const fds = this.#fds
    const group: Writable[] = []
    let bytes: Buffer | null = null
    for (let i = 0; i < list.length; i++) {
      const target = list[i]
      const direct = target.direct as Duplex
      if (target.fd < 0 || direct.writableLength !== 0 || direct.writableCorked !== 0 || direct.writableEnded) {
        flush(target)
        continue
      }
      const next = takeQueued(target)
      if (next === null) continue
      if (next !== bytes) {
        if (bytes !== null) this.#writeGroup(group, bytes)
        group.length = 0
        bytes = next
      }
      fds[group.length] = target.fd
      group.push(target)
    }
    if (bytes !== null) this.#writeGroup(group, bytes)
  }

  // One native call for `group`; what a socket's write(2) did not take (the kernel's buffer full,
  // or an error) is handed to its stream, which queues it, or fails it the way it fails any write.
  #writeGroup (group: Writable[], bytes: Buffer): void {
    const written = this.#written
    ;(this.#native as NativeWriter).writeEach(this.#fds, group.length, bytes, written)
    for (let i = 0; i < group.length; i++) {
      const taken = written[i]
      if (taken === bytes.length) continue
      ;(group[i].direct as Duplex).write(taken > 0 ? bytes.subarray(taken) : bytes)
    }
  }

  /** Milliseconds frames may wait (flushInterval); 0: until the end of the tick. */
  readonly #interval: number
  /** The window's one timer while frames wait in it. */
  #window: NodeJS.Timeout | null = null

  constructor (interval = 0, native: NativeWriter | null = null) {
    this.#interval = interval
    this.#native = native
  }

  // The first frame queued since the last flush: the frames go out at the end of the tick or window.
  #schedule (): void {
    if (this.#interval === 0) {
      process.nextTick(this.#flushAll)
      return
    }
    this.#window = setTimeout(this.#flushAll, this.#interval)
    this.#window.unref()
  }

  /** Sockets to hand their frames over at the end of this tick, window or not (answers). */
  #soon: Writable[] = []
  readonly #flushSoon = (): void => {
    const list = this.#soon
    this.#soon = []
    for (let i = 0; i < list.length; i++) flush(list[i])
  }

  /**
   * Writes an answer to the peer's own frame (connected, pong, subscribed, a replay): like
   * write(), but with a window the socket's frames (those waiting in the window first) go out at
   * the end of this tick: the peer waits for no window to hear back.
   */
  answer (target: Writable, message: EncodedMessage): boolean {
    if (this.#interval === 0 || target.direct === null) return this.write(target, message)
    if (target.ws.readyState !== OPEN) return false
    if (target.queued === null) target.queued = message.frame
    else this.write(target, message)
    if (this.#soon.push(target) === 1) process.nextTick(this.#flushSoon)
    return true
  }

  /** Writes every socket's waiting frames now (at close: nothing is left in a window). */
  flushAll (): void {
    if (this.#window !== null) clearTimeout(this.#window)
    this.#flushAll()
  }

  /** Writes one encoded message; false when the socket is not open. */
  write (target: Writable, message: EncodedMessage): boolean {
    const ws = target.ws
    if (ws.readyState !== OPEN) return false
    if (target.direct === null) {
      // Off the direct fast path already: an SSE stream costs a WebSocket nothing here.
      if (target.stream !== null) target.stream.write(message)
      else ws.send(message.bytes, { binary: false })
      return true
    }
    const frame = message.frame
    // The first frame of a tick is kept as it is (one notification per tick allocates nothing);
    // a second one makes a Run.
    const queued = target.queued
    if (queued === null) {
      target.queued = frame
      if (this.#queued.push(target) === 1) this.#schedule()
    } else if (queued instanceof Run) {
      target.queued = queued.followedBy(frame)
    } else {
      let single = this.#single
      if (single === null || single.frame !== queued) single = this.#single = new Run(null, queued)
      target.queued = single.followedBy(frame)
    }
    return true
  }

  /** Hands what this tick queued for `target` to its socket now: before a close frame, say. */
  flush (target: Writable): void {
    if (target.direct !== null) flush(target)
  }
}

// One socket's frames of the tick, handed over once the tick's code has run: one write() of one
// buffer, whether the tick brought one frame or a burst. A socket that started closing in the
// meantime gets nothing more: its close frame is already out, and nothing may follow it.
function flush (target: Writable): void {
  const bytes = takeQueued(target)
  if (bytes !== null) (target.direct as Duplex).write(bytes)
}

// The bytes of the frames queued for `target`, taken off it; null when there are none, or when
// the socket started closing in the meantime (nothing may follow its close frame).
function takeQueued (target: Writable): Buffer | null {
  const queued = target.queued
  if (queued === null) return null
  target.queued = null
  if ((target.direct as Duplex).destroyed || target.ws.readyState !== OPEN) return null
  return queued instanceof Run ? queued.bytes() : queued
}
