// Presence on the Fastify side: the service of a registration (made only when some channel opted
// in) and `app.notifications.presence(channel)` / `presenceStats(channel)`.
import type { FastifyInstance } from 'fastify'
import { Type, type Static } from '@sinclair/typebox'
import type { NotificationsApi } from '../../types/index'
import type { Adapter } from '../core/adapter'
import type { ChannelRegistry } from '../core/channels'
import type { Hub } from '../core/hub'
import type { Config } from '../core/config-types'
import { PresenceService } from '../core/presence-service'
import { FST_WS_NOTIFY_NO_PRESENCE, FST_WS_NOTIFY_UNKNOWN_CHANNEL } from '../core/errors'
import { sideRouteUrl, statsHooks } from './side-routes'

/** The presence service, set as the hub's membership observer; null when no channel has presence. */
export function createPresence (hub: Hub, registry: ChannelRegistry, config: Config, adapter: Adapter): PresenceService | null {
  if (![...config.channels.values()].some((channel) => channel.presence)) return null
  const service = new PresenceService(hub, registry, config.channels, config.presence, config.authenticate !== null, adapter.presence)
  hub.membership = service
  return service
}

/** `presence` and `presenceStats` of `app.notifications`. */
export function presenceApi (registry: ChannelRegistry, service: PresenceService | null): Pick<NotificationsApi, 'presence' | 'presenceStats'> {
  const check = (channel: string): PresenceService => {
    if (typeof channel !== 'string' || !registry.has(channel)) throw new FST_WS_NOTIFY_UNKNOWN_CHANNEL(String(channel), registry.names.join(', '))
    if (service === null || service.declarationOf(channel) === undefined) throw new FST_WS_NOTIFY_NO_PRESENCE(channel)
    return service
  }
  return {
    async presence (channel) { return await check(channel).source.list(channel) },
    async presenceStats (channel) { return await check(channel).source.counts(channel) }
  }
}

const PresenceQuery = Type.Object({ channel: Type.String({ minLength: 1 }) })

const NotFound = Type.Object({ error: Type.String(), code: Type.String(), message: Type.String() })

const PresenceResponse = Type.Object({
  channel: Type.String(),
  members: Type.Array(Type.Object({ client: Type.String(), info: Type.Optional(Type.Unknown()) })),
  total: Type.Integer(),
  truncated: Type.Boolean(),
  clients: Type.Integer({ description: 'sockets subscribed' }),
  users: Type.Integer({ description: 'distinct client ids (members)' })
})

/**
 * `GET ${path}/presence?channel=C`: the members and counts of a presence channel, behind the stats
 * route's hooks (it shows who is connected). Served only when some channel has presence and the
 * stats route is on; 404 for a channel without presence.
 */
export function registerPresenceRoute (fastify: FastifyInstance, config: Config, registry: ChannelRegistry, service: PresenceService | null): void {
  if (service === null || config.stats === false) return
  fastify.get(sideRouteUrl(config.path, 'presence'), {
    schema: { querystring: PresenceQuery, response: { 200: PresenceResponse, 404: NotFound } },
    ...statsHooks(config)
  }, async (request, reply) => {
    const { channel } = request.query as Static<typeof PresenceQuery>
    if (!registry.has(channel) || service.declarationOf(channel) === undefined) {
      return await reply.code(404).send({ error: 'Not Found', code: 'PRESENCE_NOT_ENABLED', message: `Presence is not enabled on channel ${channel.slice(0, 255)}` })
    }
    const [list, counts] = await Promise.all([service.source.list(channel), service.source.counts(channel)])
    return { channel, ...list, ...counts }
  })
}
