// Wiring only: build the config, the hub and the adapter of this registration, then expose them
// as decorators, routes and hooks. Nothing here is module-level state: two registrations (two
// apps in one process) share nothing.
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import type { NotificationsApi, NotificationsOptions, NotifyFunction } from '../types/index'
import { buildConfig } from './options'
import { ChannelRegistry } from './channels'
import { Hub } from './hub'
import { memoryAdapter } from './adapter'
import { createPublisher } from './publisher'
import { createConnectionHandler } from './connection'
import { startHeartbeat } from './heartbeat'
import { closeAllConnections } from './shutdown'
import { registerRoutes } from './routes'
import { FST_WS_NOTIFY_ALREADY_REGISTERED } from './errors'
import { CloseCode } from './protocol'
import * as errors from './errors'

async function plugin (fastify: FastifyInstance, options: NotificationsOptions): Promise<void> {
  if (fastify.hasDecorator('notifications')) throw new FST_WS_NOTIFY_ALREADY_REGISTERED()
  const config = buildConfig(options)
  const registry = new ChannelRegistry(config.channels)
  const hub = new Hub(config)
  const adapter = memoryAdapter(hub)
  let closing = false
  const isClosing = (): boolean => closing

  async function shutdown (): Promise<void> {
    closing = true
    heartbeat.stop()
    await closeAllConnections(hub, config.closeTimeout)
  }

  if (!fastify.hasDecorator('websocketServer')) {
    await fastify.register(websocket, {
      // @fastify/websocket's own preClose closes without a code (peers see 1005): ours sends 1001.
      preClose: async () => {
        await shutdown()
        await new Promise<void>((resolve) => fastify.websocketServer.close(() => resolve()))
      },
      options: { maxPayload: config.maxPayload, perMessageDeflate: false }
    })
  }
  // When the app registered @fastify/websocket itself, its preClose runs first; ours still
  // bounds shutdown by closeTimeout.
  fastify.addHook('preClose', shutdown)
  fastify.addHook('onClose', async () => { await adapter.close() })

  const heartbeat = startHeartbeat(hub, config.heartbeatInterval, config.idleTimeout)
  const { notify, sendTo } = createPublisher({
    registry, adapter, counters: hub.counters, maxMessageSize: config.maxMessageSize, isClosing
  })
  const api: NotificationsApi = {
    notify: notify as NotifyFunction,
    sendTo,
    stats: () => hub.stats(),
    channels: () => [...registry.names],
    disconnect (clientId, code = CloseCode.NORMAL, reason = '') {
      const sockets = hub.clients.get(clientId)
      if (sockets === undefined) return 0
      const list = [...sockets]
      for (const connection of list) {
        hub.remove(connection)
        hub.close(connection, code, reason)
      }
      return list.length
    }
  }
  fastify.decorate('notify', api.notify)
  fastify.decorate('notifications', api)

  registerRoutes(fastify, {
    config,
    hub,
    isClosing,
    onConnection: createConnectionHandler({ config, hub, registry, log: fastify.log })
  })
}

/** The plugin. `import notifications from`, `import { notifications } from` and `require()` all work. */
const notifications = fp(plugin, { fastify: '5.x', name: 'fastify-ws-notify' })

export default notifications
export { notifications, errors }

// CommonJS: `require('fastify-ws-notify')` is the plugin itself, with the named exports on it.
module.exports = Object.assign(notifications, { default: notifications, notifications, errors })
