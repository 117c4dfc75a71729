// The `inbox` option, checked at registration (and by createPublisher): off, or the bounds of
// the inboxes of direct messages (inbox.ts keeps them).
import type { InboxConfig } from '../core/config-types'
import { describe, fail } from './invalid-option'
import { DEFAULTS } from '../core/defaults'

const INBOX_SIZE_MAX = 100_000

/** Reads the `inbox` option: false/undefined (off) or { size, ttl, clients }. */
export function readInbox (value: unknown, authenticated: boolean): InboxConfig | null {
  if (value === undefined || value === false) return null
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`inbox must be { size?, ttl?, clients? } or false; got ${describe(value)}`)
  for (const key of Object.keys(value)) {
    if (!(key in DEFAULTS.inbox)) fail(`inbox: unknown key "${key}"; accepted: size, ttl, clients`)
  }
  // A `client_id` query is only a claim: without authenticate, anyone could read anyone's inbox.
  if (!authenticated) fail('inbox needs authenticate: a client id from ?client_id= is not proof of who reads its inbox')
  const read = (key: keyof typeof DEFAULTS.inbox, max: number, what: string): number => {
    const given = (value as Record<string, unknown>)[key]
    if (given === undefined) return DEFAULTS.inbox[key]
    if (typeof given !== 'number' || !Number.isSafeInteger(given) || given < 1 || given > max) fail(`inbox.${key} must be an integer from 1 to ${max} (${what}); got ${describe(given)}`)
    return given
  }
  return Object.freeze({
    size: read('size', INBOX_SIZE_MAX, 'messages kept per client id'),
    ttl: read('ttl', Number.MAX_SAFE_INTEGER, 'milliseconds'),
    clients: read('clients', Number.MAX_SAFE_INTEGER, 'client ids kept in memory')
  })
}
