// The routes beside the stats route (dashboard, metrics, asyncapi.json): where each one lives and
// the stats route's own `onRequest`/`preHandler` hooks, so whatever protects stats protects them.
// Those hooks are the one documented access hook of every route that shows state (docs/observability.md, Stats);
// client.js (client-route.ts) is static code and stays public.
import type { onRequestHookHandler, preHandlerHookHandler } from 'fastify'
import type { Config } from '../core/config-types'

/** `${path}/${name}`; path '/' gives '/name', not '//name' (as for stats). */
export function sideRouteUrl (path: string, name: string): string {
  return path === '/' ? `/${name}` : `${path}/${name}`
}

/**
 * The stats route's hooks, to spread into a route's options. With `stats: false` there are none:
 * a side route turned on explicitly is then served as is (protect it with the app's own hooks).
 */
export function statsHooks (config: Config): { onRequest?: onRequestHookHandler | onRequestHookHandler[], preHandler?: preHandlerHookHandler | preHandlerHookHandler[] } {
  if (config.stats === false) return {}
  const { onRequest, preHandler } = config.stats
  return {
    ...(onRequest !== undefined && { onRequest }),
    ...(preHandler !== undefined && { preHandler })
  }
}
