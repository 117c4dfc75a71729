// Connection and subscription limits. Over a connection limit the upgrade is refused with HTTP 503
// before it becomes a socket; a race between two upgrades past that check is caught when the socket
// arrives (closed with 1013). Subscriptions per socket and channel name length are checked on
// every subscribe.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Config, LimitsConfig } from '../core/config-types'
import type { Connection, Hub } from '../core/hub'
import { CHANNEL_NAME_MAX } from '../core/protocol'

/** Why a new socket of `clientId` may not open now, or null when it may. */
export function connectionLimitReached (config: LimitsConfig, hub: Hub, clientId: string | undefined): string | null {
  if (config.maxConnections > 0 && hub.connections.size >= config.maxConnections) {
    return `the server is at its connection limit (maxConnections ${config.maxConnections})`
  }
  if (clientId !== undefined && config.maxConnectionsPerClient > 0) {
    const open = hub.clients.get(clientId)?.size ?? 0
    if (open >= config.maxConnectionsPerClient) {
      return `this client is at its connection limit (maxConnectionsPerClient ${config.maxConnectionsPerClient})`
    }
  }
  return null
}

/** Answers an upgrade over a connection limit with HTTP 503. */
export function refuseOverLimit (reply: FastifyReply, reason: string) {
  return reply.code(503).header('retry-after', '5').send({
    error: 'Service Unavailable',
    code: 'TOO_MANY_CONNECTIONS',
    message: `Connection refused: ${reason}`
  })
}

/** onRequest hook of the ws route: the server-wide limit, checked before any other work. */
export function createConnectionLimitHook (config: Config, hub: Hub) {
  return async function checkConnectionLimit (_request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const reason = connectionLimitReached(config, hub, undefined)
    if (reason !== null) return refuseOverLimit(reply, reason)
  }
}

/** preValidation hook of the ws and SSE routes: the per-client limit, after authenticate decided the client id. */
export function createClientLimitHook (config: Config, hub: Hub, clientIdOf: (request: FastifyRequest) => string | undefined) {
  return async function checkClientLimit (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const reason = connectionLimitReached(config, hub, clientIdOf(request))
    if (reason !== null) return refuseOverLimit(reply, reason)
  }
}

/** A subscribe to a channel not yet joined would exceed maxSubscriptionsPerConnection. */
export function subscriptionLimitReached (config: LimitsConfig, connection: Connection, channel: string): boolean {
  return !connection.channels.has(channel) && connection.channels.size >= config.maxSubscriptionsPerConnection
}

/** Channel names are at most 255 characters; longer ones are INVALID_CHANNEL before any lookup. */
export function channelNameTooLong (channel: string): boolean {
  return channel.length > CHANNEL_NAME_MAX
}
