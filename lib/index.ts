// Wiring only: build the config, the hub and the adapter of this registration, then expose them
// as decorators, routes and hooks. Nothing here is module-level state: two registrations (two
// apps in one process) share nothing.
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import type { Socket } from 'node:net'
import type { NotificationsApi, NotificationsOptions, NotifyFunction } from '../types/index'
import { buildConfig } from './config/options'
import { ChannelRegistry } from './core/channels'
import { Hub } from './core/hub'
import { loadNativeWriter } from './core/native-writes'
import { registerClientRoute } from './transports/client-route'
import { adapterContext, memoryAdapter } from './core/adapter'
import { createPublisher } from './core/publisher'
import { createConnectionHandler } from './transports/connection'
import { createAuth } from './transports/auth'
import { startHeartbeat } from './transports/heartbeat'
import { closeAllConnections, UnfinishedSockets } from './transports/shutdown'
import { registerRoutes } from './transports/routes'
import { registerSseRoute } from './transports/sse-route'
import { onWebSocketError } from './transports/socket-errors'
import { refuseLaterWebSocket } from './transports/websocket-order'
import { registerDashboard } from './observe/dashboard'
import { registerAsyncApi } from './observe/asyncapi'
import { registerMetrics } from './observe/metrics'
import { sumStats } from './core/cluster-stats'
import { declaredNameOf } from './core/stats'
import { FST_WS_NOTIFY_ALREADY_REGISTERED, FST_WS_NOTIFY_INVALID_CLOSE } from './core/errors'
import { createPresence, presenceApi, registerPresenceRoute } from './observe/presence-api'
import { CLOSE_REASON_MAX_BYTES, CloseCode, isSendableCloseCode } from './core/protocol'
import * as errors from './core/errors'
// Broker adapter and external publisher: ioredis is loaded only when a URL is given.
import { redisAdapter } from './cluster/redis-adapter'
import { createPublisher as createExternalPublisher } from './cluster/external-publisher'
import { defineChannels } from './config/declarations'

/**
 * Listener added once closing: Fastify answers an upgrade with 503 synchronously, skipping
 * @fastify/websocket's onResponse, so the socket would stay half-open and hold server.close()
 * forever. When that answer is already written, end the socket once it is flushed. (A refusal
 * that goes through the route, such as ours in routes.ts, is destroyed by @fastify/websocket.)
 */
function endRefusedUpgrade (_request: unknown, socket: Socket): void {
  if (socket.writableLength > 0 || socket.bytesWritten > 0) socket.end(() => socket.destroy())
}

async function plugin (fastify: FastifyInstance, options: NotificationsOptions): Promise<void> {
  if (fastify.hasDecorator('notifications')) throw new FST_WS_NOTIFY_ALREADY_REGISTERED()
  const config = buildConfig(options)
  const registry = new ChannelRegistry(config.channels)
  // The native fan-out when it is built and not turned off (native-writes.ts); said once at registration.
  const native = config.nativeWrites ? loadNativeWriter() : { writer: null, why: 'nativeWrites: false' }
  fastify.log.debug(`fastify-ws-notify: fan-out writes ${native.writer === null ? `through streams (${native.why})` : 'native'}`)
  const hub = new Hub({ ...config, native: native.writer })
  // Stats and metrics list a namespace channel (user:alice) under its pattern: no identity shown.
  hub.counters.listedName = declaredNameOf(registry)
  const context = adapterContext(hub, { channels: config.channels, log: fastify.log, pluginTimeout: fastify.initialConfig.pluginTimeout, presence: config.presence, inbox: config.inbox })
  const adapter = config.adapter === null ? memoryAdapter(context) : config.adapter.create(context)
  // The adapter owns history and inbox (it assigns their offsets); the hub's stats count what they hold.
  const { history, inbox } = adapter
  hub.history = history
  hub.inbox = inbox
  if (adapter.ready !== undefined) {
    try {
      await adapter.ready()
    } catch (err) {
      await adapter.close()
      throw err
    }
  }
  const presence = createPresence(hub, registry, config, adapter)
  fastify.addHook('onClose', async () => { presence?.close() })
  let closing = false
  const isClosing = (): boolean => closing
  // Only the WebSocket server we register is ours to close entirely (other routes' sockets too).
  const ownWebSocketServer = !fastify.hasDecorator('websocketServer')

  async function shutdown (): Promise<void> {
    if (!closing) fastify.server.on('upgrade', endRefusedUpgrade)
    closing = true
    heartbeat.stop()
    unfinished.cutAfter(config.closeTimeout)
    // A write window's frames go out before the close frames; its timer does not outlive the app.
    hub.flushAll()
    await closeAllConnections(hub, config.closeTimeout, ownWebSocketServer ? fastify.websocketServer.clients : [])
  }

  if (ownWebSocketServer) {
    await fastify.register(websocket, {
      // @fastify/websocket's own preClose closes without a code (peers see 1005): ours sends 1001.
      preClose: async () => {
        await shutdown()
        await new Promise<void>((resolve) => fastify.websocketServer.close(() => resolve()))
      },
      // Its default errorHandler logs each peer's protocol violation at error level with a stack.
      errorHandler: onWebSocketError,
      options: { maxPayload: config.maxPayload, perMessageDeflate: false }
    })
    refuseLaterWebSocket(fastify)
  }
  // When the app registered @fastify/websocket itself, its preClose runs first; ours still
  // bounds shutdown by closeTimeout.
  fastify.addHook('preClose', shutdown)
  fastify.addHook('onClose', async () => { await adapter.close() })
  const unfinished = new UnfinishedSockets(fastify.server, fastify.websocketServer)
  fastify.addHook('onClose', async () => { unfinished.stop() })

  const heartbeat = startHeartbeat(hub, config.heartbeatInterval, config.idleTimeout)
  const { notify, sendTo, broadcast } = createPublisher({
    registry, adapter, counters: hub.counters, maxMessageSize: config.maxMessageSize, isClosing
  })
  const api: NotificationsApi = {
    notify: notify as NotifyFunction,
    sendTo,
    broadcast,
    stats: () => hub.stats(),
    channels: () => [...registry.names],
    nativeWrites: native.writer !== null,
    ...presenceApi(registry, presence),
    disconnect (clientId, code = CloseCode.NORMAL, reason = '') {
      // Checked before any socket leaves the hub: ws would throw on them mid-loop.
      if (!isSendableCloseCode(code)) throw new FST_WS_NOTIFY_INVALID_CLOSE(`code ${String(code)}: use 1000-1003, 1007-1014 or 3000-4999`)
      if (typeof reason !== 'string' || Buffer.byteLength(reason) > CLOSE_REASON_MAX_BYTES) {
        throw new FST_WS_NOTIFY_INVALID_CLOSE(`reason must be a string of at most ${CLOSE_REASON_MAX_BYTES} bytes`)
      }
      return hub.removeAndClose(hub.clients.get(clientId), code, reason)
    }
  }
  fastify.decorate('notify', api.notify)
  fastify.decorate('notifications', api)

  const auth = createAuth(config)
  // The routes get a context of their own only for Fastify's `logLevel`/`logSerializers` (the
  // `prefix` is already in config.path); decorators and hooks above stay on the app.
  const routes = async (scope: FastifyInstance): Promise<void> => {
    registerRoutes(scope, {
      config,
      hub,
      isClosing,
      auth,
      clusterStats: async () => await adapter.clusterStats?.() ?? sumStats([hub.stats()]),
      onConnection: createConnectionHandler({ config, hub, registry, history, auth, log: fastify.log, presence, inbox })
    })
    if (config.sse) registerSseRoute(scope, { config, hub, auth, registry, history, presence, inbox, isClosing })
    registerClientRoute(scope, config.path)
    registerDashboard(scope, config)
    registerAsyncApi(scope, config)
    registerPresenceRoute(scope, config, registry, presence)
    await registerMetrics(scope, { config, hub, registry, presence })
  }
  if (Object.keys(config.routeScope).length === 0) await routes(fastify)
  else await fastify.register(routes, config.routeScope)
}

/** The plugin. `import notifications from`, `import { notifications } from` and `require()` all work. */
const notifications = fp(plugin, { fastify: '5.x', name: 'fastify-ws-notify' })

export default notifications
export { notifications, errors, redisAdapter, createExternalPublisher as createPublisher, defineChannels }

// CommonJS: `require('fastify-ws-notify')` is the plugin itself, with the named exports on it.
module.exports = Object.assign(notifications, { default: notifications, notifications, errors, redisAdapter, createPublisher: createExternalPublisher, defineChannels })
