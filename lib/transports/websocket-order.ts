// @fastify/websocket registered after this plugin: the plugin registered its own already, and a
// second one would answer every upgrade too. Fastify refuses it anyway, by throwing "The decorator
// 'ws' has already been added!" out of that plugin's synchronous body: an uncaught exception that
// says neither why nor what to do. Here that registration becomes a registration error instead
// (app.ready() rejects with FST_WS_NOTIFY_WEBSOCKET_ORDER, naming the order and the fix).
import type { FastifyInstance } from 'fastify'
import { FST_WS_NOTIFY_WEBSOCKET_ORDER } from '../core/errors'

/** What @fastify/websocket decorates; a second one finds them all present. */
const WEBSOCKET_DECORATORS = new Set(['websocketServer', 'injectWS'])

type Method = (this: FastifyInstance, name: string | symbol, ...rest: unknown[]) => FastifyInstance

/** @fastify/websocket by its fastify-plugin name, also as an ES module namespace (`{ default }`). */
function isWebSocketPlugin (plugin: unknown): boolean {
  if ((typeof plugin !== 'function' && typeof plugin !== 'object') || plugin === null) return false
  const meta = (plugin as Record<symbol, { name?: unknown } | undefined>)[Symbol.for('plugin-meta')]
  if (meta?.name === '@fastify/websocket') return true
  return typeof plugin === 'object' && 'default' in plugin && plugin.default !== plugin && isWebSocketPlugin(plugin.default)
}

async function refuse (): Promise<void> {
  throw new FST_WS_NOTIFY_WEBSOCKET_ORDER()
}

/**
 * Call once the plugin's own @fastify/websocket is registered on `fastify` (the context the app
 * registered this plugin in, shared through fastify-plugin). Two ways in, both ending in the order
 * error: a `register(websocket)` called from now on (there or in a context created from it) is
 * replaced by a plugin that fails; one queued before this plugin loaded is caught when it
 * decorates `ws` again: its decorations are skipped so it does not throw, and ready() fails.
 */
export function refuseLaterWebSocket (fastify: FastifyInstance): void {
  const register = fastify.register as unknown as (this: FastifyInstance, ...args: unknown[]) => unknown
  fastify.register = function (this: FastifyInstance, plugin: unknown, ...rest: unknown[]) {
    return register.call(this, isWebSocketPlugin(plugin) ? refuse : plugin, ...rest)
  } as FastifyInstance['register']

  let secondWebSocket = false
  const decorateRequest = fastify.decorateRequest as unknown as Method
  fastify.decorateRequest = function (this: FastifyInstance, name, ...rest) {
    if (name !== 'ws' || !this.hasRequestDecorator('ws')) return decorateRequest.call(this, name, ...rest)
    secondWebSocket = true
    return this
  } as Method as FastifyInstance['decorateRequest']
  const decorate = fastify.decorate as unknown as Method
  fastify.decorate = function (this: FastifyInstance, name, ...rest) {
    if (secondWebSocket && typeof name === 'string' && WEBSOCKET_DECORATORS.has(name) && this.hasDecorator(name)) return this
    return decorate.call(this, name, ...rest)
  } as Method as FastifyInstance['decorate']
  fastify.addHook('onReady', async () => {
    if (secondWebSocket) throw new FST_WS_NOTIFY_WEBSOCKET_ORDER()
  })
}
