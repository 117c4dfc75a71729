// Liveness for every socket with two timers per registration, never one per socket: a ping
// sweep (a peer that did not answer the previous ping is terminated) and an idle sweep (a peer
// from which nothing arrived for idleTimeout is closed).
import type { Hub } from '../core/hub'
import { CloseCode } from '../core/protocol'

export interface Heartbeat {
  stop (): void
}

export function startHeartbeat (hub: Hub, heartbeatInterval: number, idleTimeout: number): Heartbeat {
  const timers: NodeJS.Timeout[] = []

  if (heartbeatInterval > 0) {
    timers.push(setInterval(() => {
      for (const connection of hub.connections) {
        if (connection.awaitingPong) {
          hub.remove(connection)
          connection.ws.terminate()
          continue
        }
        connection.awaitingPong = true
        connection.ws.ping()
      }
    }, heartbeatInterval))
  }

  if (idleTimeout > 0) {
    // Checked ten times per idleTimeout: a socket is closed at most 10% after its deadline.
    const every = Math.max(Math.floor(idleTimeout / 10), 10)
    timers.push(setInterval(() => {
      const deadline = Date.now() - idleTimeout
      for (const connection of hub.connections) {
        if (connection.lastSeenAt > deadline) continue
        hub.remove(connection)
        hub.close(connection, CloseCode.NORMAL, 'idle timeout')
      }
    }, every))
  }

  for (const timer of timers) timer.unref()
  return {
    stop () {
      for (const timer of timers) clearInterval(timer)
    }
  }
}
