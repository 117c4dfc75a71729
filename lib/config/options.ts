// Registration options: checked first (every message names the option and what it accepts),
// then filled with defaults once into a frozen config that the rest of the plugin reads.
import { isEventSchema, type EventSchema } from '../core/event-schema'
import type { NotificationsOptions, StatsRouteOptions } from '../../types/index'
import { describe, fail } from './invalid-option'
import { CHANNEL_NAME_MAX } from '../core/protocol'
import { DEFAULTS } from '../core/defaults'
import type { AdapterFactory } from '../core/adapter'
import { DeclaredChannels, isChannelPattern } from '../core/declared-channels'
import { isHostname, isOrigin, normalizeOrigin } from '../transports/origin'
import type { Registry } from 'prom-client'
import { readPresence, readChannelPresence } from './presence-options'
import { readHooks } from '../core/lifecycle'
import { readInbox } from './inbox-options'
import { readChannelDelivery } from './delivery-options'
import type { AuthConfig, ChannelConfig, Config, HardeningConfig, HostPolicy, OriginPolicy, HistoryConfig, ObservabilityConfig, RateLimitConfig } from '../core/config-types'

/** Options read by readObservability() at the end of this file. */
const OBSERVABILITY_OPTIONS = ['dashboard', 'metrics', 'asyncapi']

/** Options read by readHardening() at the end of this file. */
const HARDENING_OPTIONS = [
  'authenticate', 'authorize', 'allowedOrigins', 'allowedHosts', 'maxConnections', 'maxConnectionsPerClient',
  'maxSubscriptionsPerConnection', 'rateLimit'
]

/**
 * Fastify's own register options: Fastify hands them to every plugin, and applies none of them to
 * a fastify-plugin one (no encapsulation), so the plugin applies them to its routes itself.
 */
const REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers']

const KNOWN_OPTIONS = new Set([
  'channels', 'path', 'stats', 'heartbeatInterval', 'idleTimeout', 'maxPayload', 'maxMessageSize',
  'closeTimeout', 'maxBufferedBytes', 'slowConsumer', 'history', 'adapter', 'presence', 'hooks', 'sse', 'inbox',
  'flushInterval', 'nativeWrites', ...HARDENING_OPTIONS, ...OBSERVABILITY_OPTIONS, ...REGISTER_OPTIONS
])

/** The options whose default is a number. */
type IntegerOption = { [K in keyof typeof DEFAULTS]: typeof DEFAULTS[K] extends number ? K : never }[keyof typeof DEFAULTS]

function integerOption (options: Record<string, unknown>, name: IntegerOption, min: number): number {
  const value = options[name]
  if (value === undefined) return DEFAULTS[name]
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

/** Largest history size accepted: a bound on the memory one channel may hold. */
const HISTORY_SIZE_MAX = 1_000_000

/** Reads a `history` value (plugin default or one channel's); `where` names it in messages. */
function readHistory (value: unknown, where: string): HistoryConfig | null {
  if (value === undefined || value === false) return null
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`${where} must be { size, ttl? } or false; got ${describe(value)}`)
  }
  const { size, ttl, channels } = value as { size?: unknown, ttl?: unknown, channels?: unknown }
  for (const key of Object.keys(value)) {
    if (key !== 'size' && key !== 'ttl' && key !== 'channels') fail(`${where}: unknown key "${key}"; accepted: size, ttl, channels`)
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1 || size > HISTORY_SIZE_MAX) {
    fail(`${where}.size must be an integer from 1 to ${HISTORY_SIZE_MAX} (messages kept); got ${describe(size)}`)
  }
  if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 1)) {
    fail(`${where}.ttl must be an integer >= 1 (milliseconds); got ${describe(ttl)}`)
  }
  if (channels !== undefined && (typeof channels !== 'number' || !Number.isSafeInteger(channels) || channels < 1)) {
    fail(`${where}.channels must be an integer >= 1 (channels of a namespace that keep a history at once); got ${describe(channels)}`)
  }
  return Object.freeze({ size, ttl: ttl ?? DEFAULTS.history.ttl, channels: channels ?? DEFAULTS.history.channels })
}

/** A channel's history and `latest` from its declaration and the plugin default. */
function readChannelHistory (name: string, declaration: { history?: unknown, latest?: unknown }, fallback: HistoryConfig | null):
Pick<ChannelConfig, 'history' | 'latest'> {
  const { latest = DEFAULTS.channel.latest } = declaration
  if (typeof latest !== 'boolean') fail(`channels.${name}.latest must be a boolean; got ${describe(latest)}`)
  let history = declaration.history === undefined ? fallback : readHistory(declaration.history, `channels.${name}.history`)
  // The latest message is kept in a history of one when the channel keeps none.
  if (latest && history === null) history = Object.freeze({ size: 1, ...DEFAULTS.history })
  return { history, latest }
}

function readChannels (channels: unknown, defaultHistory: HistoryConfig | null = null): DeclaredChannels {
  const result = new Map<string, ChannelConfig>()
  if (Array.isArray(channels)) {
    for (const raw of channels) {
      const name = checkChannelName(raw)
      if (result.has(name)) fail(`channels: "${name}" is listed twice`)
      result.set(name, { name, events: null, history: defaultHistory, ...DEFAULTS.channel, conflateBy: null })
    }
  } else if (typeof channels === 'object' && channels !== null) {
    for (const [rawName, declaration] of Object.entries(channels)) {
      const name = checkChannelName(rawName)
      if (typeof declaration !== 'object' || declaration === null || Array.isArray(declaration)) {
        fail(`channels.${name} must be an object such as { events: { [type]: TSchema } }; got ${describe(declaration)}`)
      }
      const { events } = declaration as { events?: unknown }
      const kept = { ...readChannelHistory(name, declaration, defaultHistory), ...readChannelPresence(name, declaration), ...readChannelDelivery(name, declaration) }
      if (events === undefined) {
        result.set(name, { name, events: null, ...kept })
        continue
      }
      if (typeof events !== 'object' || events === null || Array.isArray(events)) {
        fail(`channels.${name}.events must be a map from event type to TypeBox schema; got ${describe(events)}`)
      }
      const schemas = new Map<string, EventSchema>()
      for (const [type, schema] of Object.entries(events)) {
        if (!isEventSchema(schema)) {
          fail(`channels.${name}.events.${type} must be a TypeBox schema (Type.Object(...), ...; @sinclair/typebox 0.34 or typebox 1.x); got ${describe(schema)}`)
        }
        schemas.set(type, schema)
      }
      result.set(name, { name, events: schemas, ...kept })
    }
  } else {
    fail(`channels must be a list of names or a map of channel declarations; got ${describe(channels)}`)
  }
  if (result.size === 0) fail('channels must declare at least one channel; got none')
  return new DeclaredChannels(result)
}

/** Fastify's register `prefix`: '' when absent; a trailing "/" is dropped, as Fastify does. */
function readPrefix (value: unknown): string {
  if (value === undefined || value === '' || value === '/') return ''
  if (typeof value !== 'string' || !/^\/[^\s?#]*$/.test(value)) {
    fail(`prefix must start with "/" and contain no spaces, "?" or "#"; got ${describe(value)}`)
  }
  return value.endsWith('/') ? value.slice(0, -1) : value
}

/** `logLevel` and `logSerializers`, for the encapsulated context the routes are registered in. */
function readRouteScope (options: Record<string, unknown>): Config['routeScope'] {
  const scope: Record<string, unknown> = {}
  if (options.logLevel !== undefined) {
    if (typeof options.logLevel !== 'string') fail(`logLevel must be a log level such as "warn"; got ${describe(options.logLevel)}`)
    scope.logLevel = options.logLevel
  }
  if (options.logSerializers !== undefined) scope.logSerializers = options.logSerializers
  return Object.freeze(scope)
}

function readStats (given: unknown, path: string, prefix: string): Config['stats'] {
  // path '/' gives '/stats', not '//stats'.
  const url = path === '/' ? '/stats' : `${path}/stats`
  const stats = given ?? DEFAULTS.stats
  if (stats === true) return Object.freeze({ url })
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
  return Object.freeze({ ...route, url: route.url === undefined ? url : `${prefix}${route.url}` })
}

/** The `adapter` option: what redisAdapter() returns, or absent for the in-memory default. */
function readAdapter (value: unknown): AdapterFactory | null {
  if (value === undefined) return null
  const factory = value as Partial<AdapterFactory> | null
  if (typeof factory !== 'object' || factory === null || typeof factory.name !== 'string' || typeof factory.create !== 'function') {
    fail(`adapter must be an adapter such as redisAdapter({ redis }); got ${describe(value)}`)
  }
  return factory as AdapterFactory
}

/** Checks the options and returns the frozen config; throws FST_WS_NOTIFY_INVALID_OPTION. */
export function buildConfig (input: NotificationsOptions | undefined): Config<AdapterFactory> {
  if (typeof input !== 'object' || input === null) {
    fail(`options must be an object with at least { channels }; got ${describe(input)}`)
  }
  const options = input as unknown as Record<string, unknown>
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) fail(`unknown option "${key}"; accepted: ${[...KNOWN_OPTIONS].join(', ')}`)
  }
  if (options.channels === undefined) fail('channels is required: a list of names or a map of channel declarations')

  const prefix = readPrefix(options.prefix)
  const ownPath = options.path ?? DEFAULTS.path
  if (typeof ownPath !== 'string' || !/^\/[^\s?#]*$/.test(ownPath) || (ownPath.length > 1 && ownPath.endsWith('/'))) {
    fail(`path must start with "/", contain no spaces, "?" or "#", and not end with "/"; got ${describe(ownPath)}`)
  }
  const path = prefix === '' ? ownPath : ownPath === '/' ? prefix : `${prefix}${ownPath}`
  const slowConsumer = options.slowConsumer ?? DEFAULTS.slowConsumer
  if (slowConsumer !== 'close' && slowConsumer !== 'drop') {
    fail(`slowConsumer must be "close" or "drop"; got ${describe(slowConsumer)}`)
  }

  const adapter = readAdapter(options.adapter)
  const channels = readChannels(options.channels, readHistory(options.history, 'history'))
  const hardening = readHardening(options)
  return Object.freeze({
    channels,
    path,
    routeScope: readRouteScope(options),
    stats: readStats(options.stats, path, prefix),
    heartbeatInterval: integerOption(options, 'heartbeatInterval', 0),
    idleTimeout: integerOption(options, 'idleTimeout', 0),
    maxPayload: integerOption(options, 'maxPayload', 1),
    maxMessageSize: integerOption(options, 'maxMessageSize', 1),
    closeTimeout: integerOption(options, 'closeTimeout', 0),
    maxBufferedBytes: integerOption(options, 'maxBufferedBytes', 1),
    slowConsumer,
    adapter,
    presence: readPresence(options.presence),
    hooks: readHooks(options.hooks),
    sse: booleanOption(options, 'sse', DEFAULTS.sse),
    inbox: readInbox(options.inbox, hardening.authenticate !== null),
    flushInterval: integerOption(options, 'flushInterval', 0),
    nativeWrites: booleanOption(options, 'nativeWrites', DEFAULTS.nativeWrites),
    ...hardening,
    ...readObservability(options)
  })
}

// ---- hardening: authentication, origins, limits, rate limit ------------------------------

function hookOption<T> (options: Record<string, unknown>, name: string, accepts: string): T | null {
  const value = options[name]
  if (value === undefined) return null
  if (typeof value !== 'function') fail(`${name} must be ${accepts}; got ${describe(value)}`)
  return value as T
}

function readAllowedOrigins (given: unknown): OriginPolicy {
  const value = given ?? DEFAULTS.allowedOrigins
  if (typeof value === 'function') return value as OriginPolicy
  if (!Array.isArray(value)) fail(`allowedOrigins must be a list of origins such as ["https://app.example.com"] or a function (origin, request) => boolean; got ${describe(value)}`)
  const origins = new Set<string>()
  for (const origin of value as unknown[]) {
    if (typeof origin !== 'string' || !isOrigin(origin)) {
      fail(`allowedOrigins: every entry must be an origin such as "https://app.example.com" (scheme, host, optional port; no path); got ${describe(origin)}`)
    }
    origins.add(normalizeOrigin(origin))
  }
  return origins
}

function readAllowedHosts (given: unknown): HostPolicy {
  const value = given ?? DEFAULTS.allowedHosts
  if (typeof value === 'function') return value as HostPolicy
  if (!Array.isArray(value)) fail(`allowedHosts must be a list of host names such as ["app.example.com"] or a function (host, request) => boolean; got ${describe(value)}`)
  const hosts = new Set<string>()
  for (const host of value as unknown[]) {
    if (typeof host !== 'string' || !isHostname(host)) {
      fail(`allowedHosts: every entry must be a host name such as "app.example.com" (no scheme, port or path); got ${describe(host)}`)
    }
    hosts.add(host.toLowerCase())
  }
  return hosts
}

function readRateLimit (value: unknown): RateLimitConfig | false {
  if (value === false) return false
  if (value === undefined) return DEFAULTS.rateLimit
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`rateLimit must be false or { perSecond, burst }; got ${describe(value)}`)
  }
  for (const key of Object.keys(value)) {
    if (key !== 'perSecond' && key !== 'burst') fail(`rateLimit: unknown key "${key}"; accepted: perSecond, burst`)
  }
  const { perSecond = DEFAULTS.rateLimit.perSecond, burst = DEFAULTS.rateLimit.burst } = value as { perSecond?: unknown, burst?: unknown }
  if (typeof perSecond !== 'number' || !Number.isFinite(perSecond) || perSecond <= 0) {
    fail(`rateLimit.perSecond must be a number > 0 (frames per second); got ${describe(perSecond)}`)
  }
  if (typeof burst !== 'number' || !Number.isSafeInteger(burst) || burst < 1) {
    fail(`rateLimit.burst must be an integer >= 1 (frames); got ${describe(burst)}`)
  }
  return Object.freeze({ perSecond, burst })
}

function readHardening (options: Record<string, unknown>): HardeningConfig {
  const authenticate = hookOption<AuthConfig['authenticate']>(options, 'authenticate', 'an async function (request) => identity | null')
  const authorize = hookOption<AuthConfig['authorize']>(options, 'authorize', 'an async function (identity, channel, request, { action }) => boolean')
  const channels = options.channels as object
  const names = Array.isArray(channels) ? channels as string[] : Object.keys(channels)
  const pattern = names.find(isChannelPattern)
  // Without authenticate a client id is only a claim: a private namespace would be open to anyone.
  if (pattern !== undefined && authenticate === null && authorize === null) {
    fail(`channels: "${pattern}" is a namespace pattern; it needs authenticate (each identity gets its own channel) or authorize`)
  }
  return {
    authenticate,
    authorize,
    allowedOrigins: readAllowedOrigins(options.allowedOrigins),
    allowedHosts: readAllowedHosts(options.allowedHosts),
    maxConnections: integerOption(options, 'maxConnections', 0),
    maxConnectionsPerClient: integerOption(options, 'maxConnectionsPerClient', 0),
    maxSubscriptionsPerConnection: integerOption(options, 'maxSubscriptionsPerConnection', 1),
    rateLimit: readRateLimit(options.rateLimit)
  }
}

// ---- observability: dashboard, Prometheus metrics, AsyncAPI ------------------------------

function booleanOption (options: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = options[name]
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') fail(`${name} must be true or false; got ${describe(value)}`)
  return value
}

function readMetrics (value: unknown): ObservabilityConfig['metrics'] {
  if (value === undefined) return DEFAULTS.metrics
  if (value === false) return false
  if (value === true) return Object.freeze({ registry: null })
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(`metrics must be true, false or { registry } (a prom-client Registry); got ${describe(value)}`)
  }
  for (const key of Object.keys(value)) {
    if (key !== 'registry') fail(`metrics: unknown key "${key}"; accepted: registry`)
  }
  const { registry } = value as { registry?: unknown }
  if (registry === undefined) return Object.freeze({ registry: null })
  const candidate = registry as Partial<Record<'registerMetric' | 'metrics' | 'getSingleMetric', unknown>> | null
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.registerMetric !== 'function' ||
    typeof candidate.metrics !== 'function' || typeof candidate.getSingleMetric !== 'function') {
    fail(`metrics.registry must be a prom-client Registry (new Registry()); got ${describe(registry)}`)
  }
  return Object.freeze({ registry: registry as Registry })
}

function readObservability (options: Record<string, unknown>): ObservabilityConfig {
  const statsOff = (options.stats ?? DEFAULTS.stats) === false
  const dashboard = booleanOption(options, 'dashboard', DEFAULTS.dashboard)
  // The page reads the stats route once a second and sits behind its hooks.
  if (dashboard && statsOff) fail('dashboard needs the stats route (it reads it and shares its hooks); got stats: false')
  return {
    dashboard,
    metrics: readMetrics(options.metrics),
    // On by default: it shows only the channel declarations, behind the stats route's hooks. With
    // stats: false (no side routes wanted) it is off unless asked for.
    asyncapi: booleanOption(options, 'asyncapi', DEFAULTS.asyncapi && !statsOff)
  }
}
