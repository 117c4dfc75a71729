// The two routes of a registration: the WebSocket route at `path` and the stats route.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import type { Config } from './options'
import type { Hub } from './hub'
import { StatsSchema } from './stats'
import { CLIENT_ID_PATTERN } from './protocol'

interface WsQuery { client_id?: unknown }

/** Upgrade requests are checked before they become sockets: a bad client_id gets HTTP 400. */
async function checkUpgrade (this: { isClosing (): boolean }, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (this.isClosing()) {
    return reply.code(503).send({ error: 'Service Unavailable', message: 'server is shutting down' })
  }
  const clientId = (request.query as WsQuery).client_id
  if (clientId !== undefined && (typeof clientId !== 'string' || !CLIENT_ID_PATTERN.test(clientId))) {
    return reply.code(400).send({
      error: 'Bad Request',
      code: 'INVALID_CLIENT_ID',
      message: 'client_id must be 1-128 characters of [A-Za-z0-9_.:@-]'
    })
  }
}

export interface RouteContext {
  readonly config: Config
  readonly hub: Hub
  readonly onConnection: (ws: WebSocket, clientId: string | undefined) => void
  isClosing (): boolean
}

export function registerRoutes (fastify: FastifyInstance, context: RouteContext): void {
  const { config, hub, onConnection } = context

  fastify.get(config.path, {
    websocket: true,
    preValidation: checkUpgrade.bind(context)
  }, (socket: WebSocket, request: FastifyRequest) => {
    onConnection(socket, (request.query as WsQuery).client_id as string | undefined)
  })

  if (config.stats !== false) {
    const { url, onRequest, preHandler } = config.stats
    fastify.get(url, {
      schema: { response: { 200: StatsSchema } },
      ...(onRequest !== undefined && { onRequest }),
      ...(preHandler !== undefined && { preHandler })
    }, async () => hub.stats())
  }
}
