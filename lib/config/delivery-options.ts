// A channel's `delivery` and `conflateBy` (see conflation.ts): checked at registration.
import type { ChannelDelivery } from '../core/config-types'
import { describe, fail } from './invalid-option'
import { DEFAULTS } from '../core/defaults'

/** Reads `delivery` ('all' by default) and `conflateBy` (only with 'latest') of one declaration. */
export function readChannelDelivery (name: string, declaration: { delivery?: unknown, conflateBy?: unknown }): ChannelDelivery {
  const { delivery = DEFAULTS.channel.delivery, conflateBy } = declaration
  if (delivery !== 'all' && delivery !== 'latest') {
    fail(`channels.${name}.delivery must be "all" or "latest"; got ${describe(delivery)}`)
  }
  if (conflateBy === undefined) return { delivery, conflateBy: null }
  if (typeof conflateBy !== 'string' || conflateBy.length === 0) {
    fail(`channels.${name}.conflateBy must be the name of a data field (a non-empty string); got ${describe(conflateBy)}`)
  }
  if (delivery !== 'latest') fail(`channels.${name}.conflateBy needs delivery: "latest" (an "all" channel conflates nothing)`)
  return { delivery, conflateBy }
}
