// The presence options: `presence: true` / `joinLeave: true` on a channel's declaration, and the
// plugin-wide `presence: { grace, maxMembers, maxListed, info }` bounds. Checked here, filled once.
import type { PresenceConfig } from '../core/config-types'
import { describe, fail } from './invalid-option'
import { DEFAULTS } from '../core/defaults'

const KEYS = ['grace', 'maxMembers', 'maxListed', 'info']

function bound (value: unknown, where: string, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) fail(`${where} must be an integer >= ${min}; got ${describe(value)}`)
  return value
}

/** The plugin's `presence` option. */
export function readPresence (value: unknown): PresenceConfig {
  if (value === undefined) return Object.freeze({ ...DEFAULTS.presence, info: null })
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`presence must be { grace, maxMembers, maxListed, info }; got ${describe(value)}`)
  }
  for (const key of Object.keys(value)) if (!KEYS.includes(key)) fail(`presence: unknown key "${key}"; accepted: ${KEYS.join(', ')}`)
  const options = value as Record<string, unknown>
  if (options.info !== undefined && typeof options.info !== 'function') {
    fail(`presence.info must be a function (identity) => public info; got ${describe(options.info)}`)
  }
  return Object.freeze({
    grace: bound(options.grace, 'presence.grace', DEFAULTS.presence.grace, 0),
    maxMembers: bound(options.maxMembers, 'presence.maxMembers', DEFAULTS.presence.maxMembers, 1),
    maxListed: bound(options.maxListed, 'presence.maxListed', DEFAULTS.presence.maxListed, 1),
    info: (options.info as PresenceConfig['info'] | undefined) ?? null
  })
}

/** A channel's `presence` and `joinLeave` (join/leave events need presence: they imply it). */
export function readChannelPresence (name: string, declaration: { presence?: unknown, joinLeave?: unknown }): { presence: boolean, joinLeave: boolean } {
  const { presence = DEFAULTS.channel.presence, joinLeave = DEFAULTS.channel.joinLeave } = declaration
  if (typeof presence !== 'boolean') fail(`channels.${name}.presence must be a boolean; got ${describe(presence)}`)
  if (typeof joinLeave !== 'boolean') fail(`channels.${name}.joinLeave must be a boolean; got ${describe(joinLeave)}`)
  return { presence: presence || joinLeave, joinLeave }
}
