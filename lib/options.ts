// Registration options: checked first (every message names the option and what it accepts),
// then filled with defaults once into a frozen config that the rest of the plugin reads.
import type { TSchema } from '@sinclair/typebox'
import { KindGuard } from '@sinclair/typebox'
import type { NotificationsOptions, StatsRouteOptions } from '../types/index'
import { FST_WS_NOTIFY_INVALID_OPTION } from './errors'
import { CHANNEL_NAME_MAX } from './protocol'

export interface ChannelConfig {
  readonly name: string
  /** Declared event types and their schemas; null when any type and any data is accepted. */
  readonly events: ReadonlyMap<string, TSchema> | null
}

export interface Config {
  readonly channels: ReadonlyMap<string, ChannelConfig>
  readonly path: string
  readonly stats: false | Readonly<StatsRouteOptions> & { readonly url: string }
  readonly heartbeatInterval: number
  readonly idleTimeout: number
  readonly maxPayload: number
  readonly maxMessageSize: number
  readonly closeTimeout: number
  readonly maxBufferedBytes: number
  readonly slowConsumer: 'close' | 'drop'
}

const KNOWN_OPTIONS = new Set([
  'channels', 'path', 'stats', 'heartbeatInterval', 'idleTimeout', 'maxPayload', 'maxMessageSize',
  'closeTimeout', 'maxBufferedBytes', 'slowConsumer'
])

function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`
  if (typeof value === 'number') return `number ${value}`
  return typeof value
}

function fail (message: string): never {
  throw new FST_WS_NOTIFY_INVALID_OPTION(message)
}

function integerOption (options: Record<string, unknown>, name: string, fallback: number, min: number): number {
  const value = options[name]
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(`${name} must be an integer >= ${min}; got ${describe(value)}`)
  }
  return value
}

function checkChannelName (name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > CHANNEL_NAME_MAX) {
    fail(`channels: every channel name must be a string of 1-${CHANNEL_NAME_MAX} characters; got ${describe(name)}`)
  }
  return name
}

function readChannels (channels: unknown): Map<string, ChannelConfig> {
  const result = new Map<string, ChannelConfig>()
  if (Array.isArray(channels)) {
    for (const raw of channels) {
      const name = checkChannelName(raw)
      if (result.has(name)) fail(`channels: "${name}" is listed twice`)
      result.set(name, { name, events: null })
    }
  } else if (typeof channels === 'object' && channels !== null) {
    for (const [rawName, declaration] of Object.entries(channels)) {
      const name = checkChannelName(rawName)
      if (typeof declaration !== 'object' || declaration === null || Array.isArray(declaration)) {
        fail(`channels.${name} must be an object such as { events: { [type]: TSchema } }; got ${describe(declaration)}`)
      }
      const { events } = declaration as { events?: unknown }
      if (events === undefined) {
        result.set(name, { name, events: null })
        continue
      }
      if (typeof events !== 'object' || events === null || Array.isArray(events)) {
        fail(`channels.${name}.events must be a map from event type to TypeBox schema; got ${describe(events)}`)
      }
      const schemas = new Map<string, TSchema>()
      for (const [type, schema] of Object.entries(events)) {
        if (!KindGuard.IsSchema(schema)) {
          fail(`channels.${name}.events.${type} must be a TypeBox schema (Type.Object(...), ...); got ${describe(schema)}`)
        }
        schemas.set(type, schema)
      }
      result.set(name, { name, events: schemas })
    }
  } else {
    fail(`channels must be a list of names or a map of channel declarations; got ${describe(channels)}`)
  }
  if (result.size === 0) fail('channels must declare at least one channel; got none')
  return result
}

function readStats (stats: unknown, path: string): Config['stats'] {
  const url = `${path}/stats`
  if (stats === undefined || stats === true) return Object.freeze({ url })
  if (stats === false) return false
  if (typeof stats !== 'object' || stats === null || Array.isArray(stats)) {
    fail(`stats must be true, false or { url, onRequest, preHandler }; got ${describe(stats)}`)
  }
  const route = stats as StatsRouteOptions
  if (route.url !== undefined && (typeof route.url !== 'string' || !route.url.startsWith('/'))) {
    fail(`stats.url must be a path starting with "/"; got ${describe(route.url)}`)
  }
  for (const hook of ['onRequest', 'preHandler'] as const) {
    const value = route[hook]
    const list: unknown[] = Array.isArray(value) ? value : value === undefined ? [] : [value]
    if (list.some((fn) => typeof fn !== 'function')) {
      fail(`stats.${hook} must be a hook function or a list of them; got ${describe(value)}`)
    }
  }
  return Object.freeze({ ...route, url: route.url ?? url })
}

/** Checks the options and returns the frozen config; throws FST_WS_NOTIFY_INVALID_OPTION. */
export function buildConfig (input: NotificationsOptions | undefined): Config {
  if (typeof input !== 'object' || input === null) {
    fail(`options must be an object with at least { channels }; got ${describe(input)}`)
  }
  const options = input as unknown as Record<string, unknown>
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) fail(`unknown option "${key}"; accepted: ${[...KNOWN_OPTIONS].join(', ')}`)
  }
  if (options.channels === undefined) fail('channels is required: a list of names or a map of channel declarations')

  const path = options.path ?? '/ws'
  if (typeof path !== 'string' || !/^\/[^\s?#]*$/.test(path) || (path.length > 1 && path.endsWith('/'))) {
    fail(`path must start with "/", contain no spaces, "?" or "#", and not end with "/"; got ${describe(path)}`)
  }
  const slowConsumer = options.slowConsumer ?? 'close'
  if (slowConsumer !== 'close' && slowConsumer !== 'drop') {
    fail(`slowConsumer must be "close" or "drop"; got ${describe(slowConsumer)}`)
  }

  return Object.freeze({
    channels: readChannels(options.channels),
    path,
    stats: readStats(options.stats, path),
    heartbeatInterval: integerOption(options, 'heartbeatInterval', 30_000, 0),
    idleTimeout: integerOption(options, 'idleTimeout', 300_000, 0),
    maxPayload: integerOption(options, 'maxPayload', 64 * 1024, 1),
    maxMessageSize: integerOption(options, 'maxMessageSize', 1024 * 1024, 1),
    closeTimeout: integerOption(options, 'closeTimeout', 2_000, 0),
    maxBufferedBytes: integerOption(options, 'maxBufferedBytes', 1024 * 1024, 1),
    slowConsumer
  })
}
