// The channel declarations of one registration, and the one place a concrete channel is resolved
// to its declaration: `user:42` -> `user:*`, the most specific (longest) pattern winning whatever
// the declaration order. The registry (validation, stats names), history, conflation, presence and
// the Redis layout all ask here, so a namespace channel is the same declaration everywhere.
import type { ChannelConfig, ChannelDeclarations } from './config-types'
import { CHANNEL_NAME_MAX, CLIENT_ID_CHARS } from './protocol'

/** What a pattern's `*` may stand for: the characters of a client id, so `user:<identity>` always fits. */
const PATTERN_SUFFIX = new RegExp(`^${CLIENT_ID_CHARS}+$`)

/** A declared name ending in `*` (and longer than `*`) declares a namespace, e.g. `user:*`. */
export function isChannelPattern (name: string): boolean {
  return name.length > 1 && name.endsWith('*')
}

/**
 * The namespace patterns among some names, matched by prefix: `user:admin:x` is of `user:admin:*`
 * (identity `x`), never of `user:*` (identity `admin:x`).
 */
export class ChannelPatterns {
  readonly #prefixes: string[] = []

  constructor (names: Iterable<string>) {
    for (const name of names) if (isChannelPattern(name)) this.#prefixes.push(name.slice(0, -1))
    // Longest first, so the first match is the most specific; two prefixes of one length cannot both match.
    this.#prefixes.sort((a, b) => b.length - a.length)
  }

  get size (): number {
    return this.#prefixes.length
  }

  /** The pattern (`user:*`) that a concrete channel (`user:42`) belongs to, if any. */
  match (channel: string): string | undefined {
    for (const prefix of this.#prefixes) {
      if (channel.length > prefix.length && channel.length <= CHANNEL_NAME_MAX && channel.startsWith(prefix) &&
        PATTERN_SUFFIX.test(channel.slice(prefix.length))) {
        return `${prefix}*`
      }
    }
    return undefined
  }
}

export class DeclaredChannels extends Map<string, ChannelConfig> implements ChannelDeclarations {
  readonly #patterns: ChannelPatterns

  /** Built once per registration (options.ts), after every declaration was checked. */
  constructor (declarations: Iterable<readonly [string, ChannelConfig]>) {
    super(declarations)
    this.#patterns = new ChannelPatterns(this.keys())
  }

  nameOf (channel: string): string | undefined {
    if (this.has(channel)) return isChannelPattern(channel) ? undefined : channel
    return this.#patterns.size === 0 ? undefined : this.#patterns.match(channel)
  }

  declarationOf (channel: string): ChannelConfig | undefined {
    const name = this.nameOf(channel)
    return name === undefined ? undefined : this.get(name)
  }
}
