// The native fan-out (native/fanout.c, built by the package's install step where a C compiler
// is): one call writes the same frame to many TCP sockets, one write(2) each, in place of one
// socket.write() per socket. At 5 000 sockets Node's per-socket path (a stream, a write request,
// a binding call) costs 1.3x the syscall's own CPU (bench/floors.js); this leaves the syscall.
// The sender (sender.ts) uses it only for a socket whose stream holds nothing, so bytes never
// overtake what the stream still has to write; whatever write(2) did not take goes to the stream.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'

export interface NativeWriter {
  /** written[i] = what write(fds[i], frame) returned: bytes written, or -errno. */
  writeEach (fds: Int32Array, count: number, frame: Uint8Array, written: Int32Array): void
}

// Where the install step leaves the addon, seen from lib/core (sources) and dist/lib/core (built).
const CANDIDATES = [join(__dirname, '..', '..', 'build', 'Release', 'fanout.node'), join(__dirname, '..', '..', '..', 'build', 'Release', 'fanout.node')]

let loaded: { writer: NativeWriter | null, why: string } | undefined

/**
 * The built addon, or null with the reason (not built, Windows, failed to load). Loaded once per
 * process, like any module: a capability of the machine, it holds no state of a registration.
 */
export function loadNativeWriter (): { writer: NativeWriter | null, why: string } {
  if (loaded !== undefined) return loaded
  const file = CANDIDATES.find((candidate) => existsSync(candidate))
  if (process.platform === 'win32') loaded = { writer: null, why: 'not on Windows' }
  else if (file === undefined) loaded = { writer: null, why: 'not built (no C compiler at install?)' }
  else {
    try {
      const addon = require(file) as Partial<NativeWriter>
      loaded = typeof addon.writeEach === 'function' ? { writer: addon as NativeWriter, why: file } : { writer: null, why: `${file} has no writeEach` }
    } catch (err) {
      loaded = { writer: null, why: `${file} failed to load: ${(err as Error).message}` }
    }
  }
  return loaded
}

interface SocketInternals {
  encrypted?: boolean
  _handle?: { fd?: unknown, constructor?: { name?: string } } | null
}

/**
 * The descriptor of a plain TCP socket, which write(2) may be given: -1 for anything else (TLS:
 * its bytes must be encrypted; pipes, wrapped streams, Windows).
 */
export function tcpDescriptorOf (socket: Duplex): number {
  const internals = socket as unknown as SocketInternals
  if (internals.encrypted === true) return -1
  const handle = internals._handle
  if (handle === null || handle === undefined || handle.constructor?.name !== 'TCP') return -1
  const fd = handle.fd
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : -1
}
