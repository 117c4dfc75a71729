// Who may connect, as whom, and to which channels: the `authenticate` hook on the upgrade (its
// identity becomes the client id), the `authorize` check on every subscribe, and channel namespace
// patterns such as `user:*` that make per-identity private channels possible.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Identity } from '../../types/index'
import type { AuthConfig, AuthorizeAction } from '../core/config-types'
import { CLIENT_ID_PATTERN } from '../core/protocol'
import { FST_WS_NOTIFY_INVALID_IDENTITY } from '../core/errors'

/** The id of an identity: the string itself or its `id`. */
export function idOf (identity: Identity): string {
  return typeof identity === 'string' ? identity : identity.id
}

function readIdentity (result: unknown): Identity | null {
  if (result === null || result === undefined || result === false) return null
  const id = typeof result === 'string' ? result : (typeof result === 'object' ? (result as { id?: unknown }).id : undefined)
  if (typeof id !== 'string' || !CLIENT_ID_PATTERN.test(id)) {
    throw new FST_WS_NOTIFY_INVALID_IDENTITY(JSON.stringify(id) ?? String(id))
  }
  return result as Identity
}

/**
 * The default policy without `authorize`: declared channels are open to every connection; a
 * namespace channel is private to the identity it names (`user:42` only for identity `42`).
 */
export function defaultAuthorize (identity: Identity, channel: string, pattern: string | undefined): boolean {
  return pattern === undefined || channel === `${pattern.slice(0, -1)}${idOf(identity)}`
}

/** The body of an upgrade refused because `authenticate` threw: nothing of the app's error. */
const AUTHENTICATION_FAILED = Object.freeze({ error: 'Internal Server Error', message: 'authentication failed' })

function isClientError (err: unknown): boolean {
  const status = (err as { statusCode?: unknown } | null)?.statusCode
  return typeof status === 'number' && status >= 400 && status < 500
}

// Frozen once: `authorize` is given the same small object on every call, none made per frame.
const SUBSCRIBE = Object.freeze({ action: 'subscribe' as const })
const PRESENCE = Object.freeze({ action: 'presence' as const })

export interface Auth {
  /** preValidation hook of the ws route; null without `authenticate`. */
  readonly hook: ((request: FastifyRequest, reply: FastifyReply) => Promise<unknown>) | null
  /** The client id of an upgrade: the authenticated identity, else the `client_id` query. */
  clientIdOf (request: FastifyRequest): string | undefined
  /** The identity given to `authorize`: what `authenticate` returned, else the client id. */
  identityOf (request: FastifyRequest, clientId: string): Identity
  /**
   * true when `identity` may subscribe to `channel` (or read its presence, `action` 'presence'); a
   * promise only when the app's hook is async.
   */
  authorize (identity: Identity, channel: string, pattern: string | undefined, request: FastifyRequest, action?: AuthorizeAction): boolean | Promise<boolean>
}

export function createAuth (config: AuthConfig): Auth {
  // Identities by upgrade request; the entry goes with the request object.
  const identities = new WeakMap<FastifyRequest, Identity>()
  const { authenticate, authorize } = config

  const hook = authenticate === null
    ? null
    : async function authenticateUpgrade (request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
      let identity: Identity | null
      try {
        identity = readIdentity(await authenticate(request))
      } catch (err) {
        // A deliberate refusal (a 4xx statusCode, e.g. from request.jwtVerify()) is the app's answer.
        if (isClientError(err)) throw err
        // Anything else is the app's bug: its message (a connection string, a query) stays in the log.
        request.log.error({ err }, 'fastify-ws-notify: authenticate failed; the upgrade is refused (HTTP 500)')
        return reply.code(500).send(AUTHENTICATION_FAILED)
      }
      if (identity === null) {
        return reply.code(401).send({ error: 'Unauthorized', code: 'UNAUTHORIZED', message: 'Authentication required' })
      }
      identities.set(request, identity)
    }

  return {
    hook,
    clientIdOf (request) {
      if (authenticate !== null) {
        const identity = identities.get(request)
        return identity === undefined ? undefined : idOf(identity)
      }
      const clientId = (request.query as { client_id?: unknown }).client_id
      return typeof clientId === 'string' ? clientId : undefined
    },
    identityOf (request, clientId) {
      return identities.get(request) ?? clientId
    },
    authorize (identity, channel, pattern, request, action = 'subscribe') {
      if (authorize === null) return defaultAuthorize(identity, channel, pattern)
      const allowed = authorize(identity, channel, request, action === 'subscribe' ? SUBSCRIBE : PRESENCE)
      // Fail closed: only `true` allows.
      return typeof allowed === 'boolean' ? allowed : Promise.resolve(allowed).then((value) => value === true)
    }
  }
}
