// One declarations object shared by every instance and every worker: `defineChannels` folds a
// default history into each channel's own declaration, so that `createPublisher({ channels })`
// knows which channels keep history (and has Redis give its messages offsets) exactly as the
// instances do, with no second `history` option to keep in step.
import type { ChannelDeclaration, ChannelDefaults } from '../../types/index'
import { isChannelPattern } from '../core/declared-channels'
import { FST_WS_NOTIFY_INVALID_OPTION } from '../core/errors'

/**
 * The declarations with `defaults` folded in. A namespace (`user:*`) keeps only what it declares
 * itself, as with the plugin-wide `history` under the Redis adapter. Checked fully where used.
 */
export function defineChannels<const C extends Readonly<Record<string, ChannelDeclaration>>> (channels: C, defaults: ChannelDefaults = {}): C {
  if (typeof channels !== 'object' || channels === null || Array.isArray(channels)) {
    throw new FST_WS_NOTIFY_INVALID_OPTION('defineChannels: channels must be a map of channel declarations')
  }
  if (typeof defaults !== 'object' || defaults === null) throw new FST_WS_NOTIFY_INVALID_OPTION('defineChannels: defaults must be { history }')
  for (const key of Object.keys(defaults)) {
    if (key !== 'history') throw new FST_WS_NOTIFY_INVALID_OPTION(`defineChannels: unknown default "${key}"; accepted: history`)
  }
  const result: Record<string, ChannelDeclaration> = {}
  for (const [name, declaration] of Object.entries(channels)) {
    const keep = defaults.history === undefined || isChannelPattern(name) || typeof declaration !== 'object' || declaration === null ||
      declaration.history !== undefined
    result[name] = keep ? declaration : Object.freeze({ ...declaration, history: defaults.history })
  }
  return Object.freeze(result) as unknown as C
}
