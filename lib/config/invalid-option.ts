// How a registration option is refused: `describe` names the value given, `fail` throws
// FST_WS_NOTIFY_INVALID_OPTION. A leaf, so that options.ts and the readers it calls
// (presence-options.ts, inbox.ts, delivery-options.ts) share it without importing each other.
import { FST_WS_NOTIFY_INVALID_OPTION } from '../core/errors'

/** A value as an option's error message names it: `number 3`, `string "x"`, `array`, `null`... */
export function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`
  if (typeof value === 'number') return `number ${value}`
  return typeof value
}

/** Refuses an option; `message` names it, what it accepts and what was given. */
export function fail (message: string): never {
  throw new FST_WS_NOTIFY_INVALID_OPTION(message)
}
