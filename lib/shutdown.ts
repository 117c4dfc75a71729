// Shutdown: every socket gets 1001 and a close handshake; whatever has not finished it within
// closeTimeout is terminated, so one mute peer cannot hold fastify.close().
import type { Hub } from './hub'
import { CloseCode } from './protocol'

export async function closeAllConnections (hub: Hub, closeTimeout: number): Promise<void> {
  const connections = [...hub.connections]
  const sockets = connections.map((connection) => connection.ws)
  if (sockets.length === 0) return
  const closed = connections.map((connection) => new Promise<void>((resolve) => {
    const ws = connection.ws
    if (ws.readyState === ws.CLOSED) return resolve()
    ws.once('close', () => resolve())
    // Frames of this tick go out before the close frame.
    hub.flush(connection)
    ws.close(CloseCode.GOING_AWAY, 'server shutting down')
  }))
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
