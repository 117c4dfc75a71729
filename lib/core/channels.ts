// Declared channels and the validation of what notify() sends on them. Every schema is compiled
// once here, at registration; notify() only runs the compiled checks.
import { compileEventSchema, type EventCheck } from './event-schema'
import type { ChannelDeclarations } from './config-types'
import {
  FST_WS_NOTIFY_INVALID_PAYLOAD,
  FST_WS_NOTIFY_INVALID_TYPE,
  FST_WS_NOTIFY_UNKNOWN_CHANNEL,
  FST_WS_NOTIFY_UNKNOWN_EVENT
} from './errors'

export class ChannelRegistry {
  /** Declared names, in declaration order, as sent in `connected` and INVALID_CHANNEL frames. */
  readonly names: readonly string[]
  readonly #checks = new Map<string, ReadonlyMap<string, EventCheck> | null>()
  /** The declarations, which resolve `user:42` to `user:*` (`user:*` itself is no channel). */
  readonly #channels: ChannelDeclarations

  constructor (channels: ChannelDeclarations) {
    this.names = Object.freeze([...channels.keys()])
    this.#channels = channels
    for (const { name, events } of channels.values()) {
      if (events === null) {
        this.#checks.set(name, null)
        continue
      }
      const compiled = new Map<string, EventCheck>()
      for (const [type, schema] of events) compiled.set(type, compileEventSchema(schema))
      this.#checks.set(name, compiled)
    }
  }

  has (channel: string): boolean {
    return this.declarationOf(channel) !== undefined
  }

  /** The declared name a channel falls under: itself, or its pattern (`user:*` for `user:42`). */
  declarationOf (channel: string): string | undefined {
    return this.#channels.nameOf(channel)
  }

  /** Throws the FST_WS_NOTIFY_* error that says what is wrong with (channel, type, data). */
  validate (channel: string, type: unknown, data: unknown): void {
    const declared = this.declarationOf(channel)
    const events = declared === undefined ? undefined : this.#checks.get(declared)
    if (events === undefined) {
      throw new FST_WS_NOTIFY_UNKNOWN_CHANNEL(String(channel), this.names.join(', '))
    }
    if (typeof type !== 'string' || type.length === 0) throw new FST_WS_NOTIFY_INVALID_TYPE(JSON.stringify(type) ?? String(type))
    if (events === null) return
    const check = events.get(type)
    if (check === undefined) {
      throw new FST_WS_NOTIFY_UNKNOWN_EVENT(type, channel, [...events.keys()].join(', '))
    }
    if (!check.Check(data)) {
      const first = check.firstError(data)
      const where = first === undefined || first.path === '' ? 'data' : `data${first.path}`
      throw new FST_WS_NOTIFY_INVALID_PAYLOAD(type, channel, `${where}: ${first?.message ?? 'does not match the schema'}`)
    }
  }
}
