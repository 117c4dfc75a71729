// The `presence` and `presence_stats` actions of a socket: who is on a channel it is subscribed
// to, or how many. Only on channels that opted in (PRESENCE_NOT_ENABLED otherwise), only for a
// subscriber of the channel, and, when the app has `authorize`, only if it allows
// `{ action: 'presence' }`.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { Identity } from '../../types/index'
import type { Auth } from './auth'
import type { ChannelRegistry } from '../core/channels'
import type { Connection, Hub } from '../core/hub'
import type { PresenceService } from '../core/presence-service'
import type { ErrorCode, RequestId } from '../core/protocol'
import { encodeMessage } from '../core/sender'

export interface PresenceRequest {
  readonly action: 'presence' | 'presence_stats'
  readonly channel: string
  readonly id?: RequestId
  readonly request_id?: RequestId
}

/** What the actions need of the registration. */
export interface PresenceContext {
  readonly hub: Hub
  readonly registry: ChannelRegistry
  readonly auth: Auth
  readonly log: FastifyBaseLogger
  readonly presence: PresenceService | null
}

/** The socket asking: who it is, for `authorize`. */
export interface PresenceAsker extends Connection {
  readonly identity: Identity
  readonly request: FastifyRequest
}

function reply (hub: Hub, connection: Connection, frame: object): void {
  hub.reply(connection, encodeMessage(JSON.stringify(frame)))
}

function refuse (hub: Hub, connection: Connection, frame: PresenceRequest, code: ErrorCode, message: string): void {
  reply(hub, connection, { type: 'error', code, message, id: frame.id, request_id: frame.request_id, timestamp: new Date().toISOString() })
}

async function answer (context: PresenceContext, presence: PresenceService, connection: Connection, frame: PresenceRequest): Promise<void> {
  const { channel, id, request_id: requestId } = frame
  try {
    if (frame.action === 'presence_stats') {
      const { clients, users } = await presence.source.counts(channel)
      reply(context.hub, connection, { type: 'presence_stats', channel, clients, users, timestamp: new Date().toISOString(), id, request_id: requestId })
    } else {
      const { members, total, truncated } = await presence.source.list(channel)
      reply(context.hub, connection, { type: 'presence', channel, members, total, truncated, timestamp: new Date().toISOString(), id, request_id: requestId })
    }
  } catch (err) {
    context.log.warn({ err, channel }, 'fastify-ws-notify: presence could not be read')
    refuse(context.hub, connection, frame, 'PRESENCE_UNAVAILABLE', `Presence of ${channel} cannot be read now (broker unavailable); try again`)
  }
}

/**
 * Answers one presence action on a declared channel. Returns a promise while `authorize` or the
 * read (Redis) is pending: the socket's next frames wait for it, so replies keep their order.
 */
export function answerPresence (context: PresenceContext, connection: PresenceAsker, frame: PresenceRequest): Promise<void> | undefined {
  const { hub, presence } = context
  const channel = frame.channel
  if (presence === null || presence.declarationOf(channel) === undefined) {
    refuse(hub, connection, frame, 'PRESENCE_NOT_ENABLED', `Presence is not enabled on channel ${channel}`)
    return
  }
  if (!connection.channels.has(channel)) {
    refuse(hub, connection, frame, 'FORBIDDEN', `Subscribe to ${channel} before asking who is on it`)
    return
  }
  const declared = context.registry.declarationOf(channel)
  const allowed = context.auth.authorize(connection.identity, channel, declared === channel ? undefined : declared, connection.request, 'presence')
  const forbid = (): void => refuse(hub, connection, frame, 'FORBIDDEN', `Not allowed to read the presence of ${channel}`)
  if (allowed === false) { forbid(); return }
  if (allowed === true) return answer(context, presence, connection, frame)
  return allowed.then((ok) => ok ? answer(context, presence, connection, frame) : forbid(), (err: unknown) => {
    context.log.error({ err }, 'fastify-ws-notify: authorize failed; the presence read is refused (FORBIDDEN)')
    forbid()
  })
}
