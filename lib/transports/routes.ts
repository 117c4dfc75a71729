// The two routes of a registration: the WebSocket route at `path` and the stats route.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import type { Config } from '../core/config-types'
import type { Hub } from '../core/hub'
import { Type, type Static } from '@sinclair/typebox'
import { StatsResponseSchema, type ClusterStats } from '../core/cluster-stats'
import { CLIENT_ID_PATTERN } from '../core/protocol'
import { parseInboxSince } from '../core/inbox'
import type { Auth } from './auth'
import { createOriginHook } from './origin'
import { createClientLimitHook, createConnectionLimitHook } from './limits'

interface WsQuery { client_id?: unknown }

/** Upgrade (and SSE) requests are checked before they become sockets: a bad client_id gets HTTP 400. */
export async function checkUpgrade (this: { isClosing (): boolean }, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (this.isClosing()) {
    return reply.code(503).send({ error: 'Service Unavailable', message: 'server is shutting down' })
  }
  const clientId = (request.query as WsQuery).client_id
  if (clientId !== undefined && (typeof clientId !== 'string' || !CLIENT_ID_PATTERN.test(clientId))) {
    return reply.code(400).send({
      error: 'Bad Request',
      code: 'INVALID_CLIENT_ID',
      message: 'client_id must be 1-128 characters of [A-Za-z0-9_.:@|-]'
    })
  }
  if (parseInboxSince((request.query as { inbox_since?: unknown }).inbox_since) === null) {
    return reply.code(400).send({ error: 'Bad Request', code: 'INVALID_MESSAGE', message: 'inbox_since must be EPOCH:OFFSET, as in connected.inbox' })
  }
}

const StatsQuerySchema = Type.Object({
  scope: Type.Optional(Type.Union([Type.Literal('local'), Type.Literal('cluster')]))
})
type StatsQuery = Static<typeof StatsQuerySchema>

export interface RouteContext {
  readonly config: Config
  readonly hub: Hub
  readonly auth: Auth
  readonly onConnection: (ws: WebSocket, clientId: string | undefined, request: FastifyRequest) => void
  isClosing (): boolean
  /** Sums over every live instance (one instance alone without a broker adapter). */
  clusterStats (): Promise<ClusterStats>
}

export function registerRoutes (fastify: FastifyInstance, context: RouteContext): void {
  const { config, hub, onConnection, auth } = context
  // Per-client limit: after authenticate, which decides the client id.
  const checkClientLimit = createClientLimitHook(config, hub, (request) => auth.clientIdOf(request))

  // Upgrade checks, cheapest first: origin (403), server limit (503), then client_id (400),
  // authenticate (401) and the per-client limit (503). Refused upgrades never become sockets.
  fastify.get(config.path, {
    websocket: true,
    onRequest: [createOriginHook(config.allowedOrigins, fastify.log, config.allowedHosts), createConnectionLimitHook(config, hub)],
    preValidation: [checkUpgrade.bind(context), ...(auth.hook === null ? [] : [auth.hook]), checkClientLimit]
  }, (socket: WebSocket, request: FastifyRequest) => {
    onConnection(socket, auth.clientIdOf(request), request)
  })

  if (config.stats !== false) {
    const { url, onRequest, preHandler } = config.stats
    fastify.get(url, {
      schema: { querystring: StatsQuerySchema, response: { 200: StatsResponseSchema } },
      ...(onRequest !== undefined && { onRequest }),
      ...(preHandler !== undefined && { preHandler })
    }, async (request) => {
      const own = hub.stats()
      // ?scope=cluster: this instance's figures, plus the sums over every live instance.
      return (request.query as StatsQuery).scope === 'cluster' ? { ...own, cluster: await context.clusterStats() } : own
    })
  }
}
