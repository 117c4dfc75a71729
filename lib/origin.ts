// Cross-site WebSocket hijacking: browsers send cookies with an upgrade from any page, so the
// Origin of an upgrade is checked before it becomes a socket (HTTP 403). Requests without Origin
// (non-browser clients) and same-origin requests pass; other origins must be allowed explicitly.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'

/** A list of origins such as `https://app.example.com`, or a function deciding for each one. */
export type OriginPolicy = ReadonlySet<string> | ((origin: string, request: FastifyRequest) => boolean)

/** `origin` names the same scheme-less host as the request's Host header. */
export function isSameOrigin (origin: string, host: string | undefined): boolean {
  if (host === undefined) return false
  try {
    const url = new URL(origin)
    // Normalizes the Host header the same way (case, default port) before comparing.
    return url.host === new URL(`${url.protocol}//${host}`).host
  } catch {
    return false
  }
}

/** Origin in the form browsers send and the list stores: lower case, no path, no trailing slash. */
export function normalizeOrigin (origin: string): string {
  try {
    const url = new URL(origin)
    return url.origin === 'null' ? origin.toLowerCase() : url.origin
  } catch {
    return origin.toLowerCase()
  }
}

/** `value` is an origin (scheme, host, optional port; nothing else), or the literal `null` browsers send. */
export function isOrigin (value: string): boolean {
  if (value === 'null') return true
  try {
    const url = new URL(value)
    return url.origin !== 'null' && url.pathname === '/' && !value.endsWith('//') && url.search === '' && url.hash === '' &&
      url.username === '' && url.password === ''
  } catch {
    return false
  }
}

export function isOriginAllowed (policy: OriginPolicy, request: FastifyRequest): boolean {
  const origin = request.headers.origin
  if (origin === undefined) return true
  if (isSameOrigin(origin, request.headers.host)) return true
  return typeof policy === 'function' ? policy(origin, request) === true : policy.has(normalizeOrigin(origin))
}

/** onRequest hook of the ws route: HTTP 403 for an origin that is not allowed, logged once. */
export function createOriginHook (policy: OriginPolicy, log: FastifyBaseLogger) {
  let logged = false
  return async function checkOrigin (request: FastifyRequest, reply: FastifyReply) {
    if (isOriginAllowed(policy, request)) return
    const origin = String(request.headers.origin)
    if (!logged) {
      logged = true
      log.warn({ origin }, `fastify-ws-notify: refused a WebSocket upgrade from origin ${JSON.stringify(origin.slice(0, 200))} (HTTP 403); ` +
        'if this origin is yours, add it to the allowedOrigins option. Logged once.')
    }
    return reply.code(403).send({ error: 'Forbidden', code: 'ORIGIN_NOT_ALLOWED', message: 'Origin not allowed' })
  }
}
