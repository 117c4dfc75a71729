// Cross-site WebSocket hijacking: browsers send cookies with an upgrade from any page, so the
// Origin of an upgrade is checked before it becomes a socket (HTTP 403). Requests without Origin
// (non-browser clients) and same-origin requests pass; other origins must be allowed explicitly.
// Same-origin is judged from the Host header, which DNS rebinding controls (the attacker's name
// pointed at this server makes Origin and Host agree), so a same-origin upgrade passes only when
// its Host cannot be rebound (loopback names, literal addresses) or is in `allowedHosts`.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { isIP } from 'node:net'

import type { HostPolicy, OriginPolicy } from '../core/config-types'

/** The host name of a Host header: lower case, without port; IPv6 in brackets. null when it is not one. */
export function hostnameOf (host: string): string | null {
  // Nothing a URL would read as user info, path, query or fragment: a Host is a name and a port.
  if (!/^[^/?#@\\\s]+$/.test(host)) return null
  try {
    const { hostname } = new URL(`http://${host}`)
    return hostname === '' ? null : hostname
  } catch {
    return null
  }
}

/** Names no DNS answer can point elsewhere: localhost and its subdomains (browsers keep them on loopback), literal addresses. */
export function isUnrebindable (hostname: string): boolean {
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true
  return isIP(hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname) !== 0
}

/** `hostname` is a host name an `allowedHosts` entry may hold (letters, digits, dots, hyphens). */
export function isHostname (value: string): boolean {
  return value.length > 0 && value.length <= 253 && /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(value) && !value.includes('..')
}

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

function originListed (policy: OriginPolicy, origin: string, request: FastifyRequest): boolean {
  return typeof policy === 'function' ? policy(origin, request) === true : policy.has(normalizeOrigin(origin))
}

function hostAllowed (policy: HostPolicy, request: FastifyRequest): boolean {
  const hostname = hostnameOf(String(request.headers.host))
  if (hostname === null) return false
  if (isUnrebindable(hostname)) return true
  return typeof policy === 'function' ? policy(hostname, request) === true : policy.has(hostname)
}

/** Why an upgrade is refused: its origin, or a same-origin request whose Host may be rebound; null when it passes. */
export function originRefusal (origins: OriginPolicy, hosts: HostPolicy, request: FastifyRequest): 'origin' | 'host' | null {
  const origin = request.headers.origin
  if (origin === undefined) return null
  if (isSameOrigin(origin, request.headers.host)) {
    // A listed origin passes whatever its Host: its owner, not an attacker, controls its DNS.
    return hostAllowed(hosts, request) || originListed(origins, origin, request) ? null : 'host'
  }
  return originListed(origins, origin, request) ? null : 'origin'
}

export function isOriginAllowed (policy: OriginPolicy, request: FastifyRequest, hosts: HostPolicy = new Set()): boolean {
  return originRefusal(policy, hosts, request) === null
}

/**
 * onRequest hook of the ws route: HTTP 403 for an origin that is not allowed, or a same-origin
 * upgrade whose Host is not trusted (the same answer: both are an origin refusal), each logged once.
 */
export function createOriginHook (policy: OriginPolicy, log: FastifyBaseLogger, hosts: HostPolicy = new Set(), what = 'WebSocket upgrade') {
  let loggedOrigin = false
  let loggedHost = false
  return async function checkOrigin (request: FastifyRequest, reply: FastifyReply) {
    const refusal = originRefusal(policy, hosts, request)
    if (refusal === null) return
    const origin = String(request.headers.origin)
    if (refusal === 'origin' && !loggedOrigin) {
      loggedOrigin = true
      log.warn({ origin }, `fastify-ws-notify: refused a ${what} from origin ${JSON.stringify(origin.slice(0, 200))} (HTTP 403); ` +
        'if this origin is yours, add it to the allowedOrigins option. Logged once.')
    }
    if (refusal === 'host' && !loggedHost) {
      loggedHost = true
      const host = String(request.headers.host).slice(0, 200)
      log.warn({ origin, host }, `fastify-ws-notify: refused a same-origin ${what} for host ${JSON.stringify(host)} (HTTP 403): ` +
        'only localhost, literal addresses and allowedHosts are trusted (DNS rebinding); if this host is yours, add it to the allowedHosts option. Logged once.')
    }
    return reply.code(403).send({ error: 'Forbidden', code: 'ORIGIN_NOT_ALLOWED', message: 'Origin not allowed' })
  }
}
