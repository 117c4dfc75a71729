// The shape of the frozen config that options.ts builds and every other module reads. Types only,
// and only of modules that import nothing of this graph back (event-schema, the public types), so that a module reading its config never imports options.ts or what it imports
// (test/import-graph.test.ts keeps lib/ free of import cycles).
import type { FastifyRequest } from 'fastify'
import type { Registry } from 'prom-client'
import type { AuthenticateResult, AuthorizeContext, Identity, LifecycleHooks, StatsRouteOptions } from '../../types/index'
import type { EventSchema } from './event-schema'

// The hooks and policies the app gives (auth.ts and origin.ts apply them).
export type AuthenticateHook = (request: FastifyRequest) => AuthenticateResult | Promise<AuthenticateResult>
/** What `authorize` is asked about: joining a channel, or reading who is on it (presence). */
export type AuthorizeAction = AuthorizeContext['action']
export type AuthorizeHook = (identity: Identity, channel: string, request: FastifyRequest, context: AuthorizeContext) => boolean | Promise<boolean>

export interface AuthConfig {
  readonly authenticate: AuthenticateHook | null
  readonly authorize: AuthorizeHook | null
}

/** A list of origins such as `https://app.example.com`, or a function deciding for each one. */
export type OriginPolicy = ReadonlySet<string> | ((origin: string, request: FastifyRequest) => boolean)

/** Host names (lower case, no port) trusted for same-origin upgrades, or a function deciding for each one. */
export type HostPolicy = ReadonlySet<string> | ((host: string, request: FastifyRequest) => boolean)

/**
 * Declared name -> its config, and the one resolution of a concrete channel to its declaration
 * (declared-channels.ts): `user:42` -> `user:*`, the most specific pattern winning.
 */
export interface ChannelDeclarations extends ReadonlyMap<string, ChannelConfig> {
  /** The declared name a channel falls under: itself, or its pattern; undefined for a pattern itself or an unknown name. */
  nameOf (channel: string): string | undefined
  /** The declaration a channel falls under (see nameOf). */
  declarationOf (channel: string): ChannelConfig | undefined
}

/** What the config holds of the `adapter` option; options.ts gives it its full type (AdapterFactory). */
export interface NamedAdapterFactory {
  readonly name: string
}

/**
 * The config of one registration. `Factory` is the adapter factory's type: buildConfig() returns
 * `Config<AdapterFactory>` (adapter.ts), which this file cannot name, adapter.ts reading
 * ChannelConfig from it; every other reader ignores `adapter`.
 */
export interface Config<Factory extends NamedAdapterFactory = NamedAdapterFactory> extends HardeningConfig, ObservabilityConfig {
  readonly channels: ChannelDeclarations
  /** The WebSocket route, Fastify's register `prefix` included; side routes hang under it. */
  readonly path: string
  /** Fastify's register options for the plugin's routes (`logLevel`, `logSerializers`), as given. */
  readonly routeScope: Readonly<Record<string, unknown>>
  readonly stats: false | Readonly<StatsRouteOptions> & { readonly url: string }
  readonly heartbeatInterval: number
  readonly idleTimeout: number
  readonly maxPayload: number
  readonly maxMessageSize: number
  readonly closeTimeout: number
  readonly maxBufferedBytes: number
  readonly slowConsumer: 'close' | 'drop'
  /** A broker adapter (Redis); null for the in-memory default. */
  readonly adapter: Factory | null
  /** Bounds and public info of presence channels (see presence.ts). */
  readonly presence: PresenceConfig
  /** Lifecycle hooks (lifecycle.ts); null when none is given. */
  readonly hooks: Readonly<LifecycleHooks> | null
  /** Serve Server-Sent Events streams at `${path}/sse` (sse-route.ts). */
  readonly sse: boolean
  /** Direct messages kept per client id for replay (inbox.ts); null when off. */
  readonly inbox: InboxConfig | null
  /** Milliseconds a WebSocket's frames may wait to be written together; 0: each tick's go out at its end (sender.ts). */
  readonly flushInterval: number
  /** Write fan-outs with the native addon when it is built (native-writes.ts); false: always through the streams. */
  readonly nativeWrites: boolean
}

export interface ChannelConfig extends ChannelDelivery {
  readonly name: string
  /** Declared event types and their schemas; null when any type and any data is accepted. */
  readonly events: ReadonlyMap<string, EventSchema> | null
  /** Kept history (ttl 0: no ttl); null when the channel keeps none. */
  readonly history: HistoryConfig | null
  /** A new subscriber receives the channel's last message right after `subscribed`. */
  readonly latest: boolean
  /** Who is on the channel may be asked (`presence` actions); joinLeave implies it. */
  readonly presence: boolean
  /** Subscribers receive `join`/`leave` when a client id's first socket joins and its last leaves. */
  readonly joinLeave: boolean
}

export interface HistoryConfig {
  readonly size: number
  /** Milliseconds a message stays resumable; 0 means no limit but size. */
  readonly ttl: number
  /**
   * On a namespace (`user:*`): how many of its channels keep a history at once; the one used least
   * recently is dropped for a new one. Unused (and absent from messages) on other channels.
   */
  readonly channels: number
}

/** A channel's `delivery` and `conflateBy` (delivery-options.ts, conflation.ts). */
export interface ChannelDelivery {
  /** 'latest': a subscriber that is behind gets only the newest message per key (conflation.ts). */
  readonly delivery: 'all' | 'latest'
  /** The data field whose value keys conflation on a 'latest' channel; null: one key per channel. */
  readonly conflateBy: string | null
}

/** The plugin-wide `presence` option (presence-options.ts). */
export interface PresenceConfig {
  /** Milliseconds a client id stays a member after its last socket left (a reconnect does not flap). */
  readonly grace: number
  /** Members (client ids) one channel holds on one instance; one more is refused with CHANNEL_FULL. */
  readonly maxMembers: number
  /** Members listed in one `presence` reply; past it the reply says `truncated: true` and `total`. */
  readonly maxListed: number
  /** The public info of a member the app chooses to expose; null: none (never the whole identity). */
  readonly info: ((identity: Identity) => unknown) | null
}

/** The `inbox` option (inbox.ts). */
export interface InboxConfig {
  /** Messages kept per client id. */
  readonly size: number
  /** Milliseconds a message stays replayable. */
  readonly ttl: number
  /** Client ids whose inbox is kept in memory at once (least recently used dropped first). */
  readonly clients: number
}

export interface HardeningConfig extends AuthConfig, LimitsConfig {
  readonly allowedOrigins: OriginPolicy
  /** Hosts trusted for same-origin upgrades besides localhost and literal addresses (DNS rebinding). */
  readonly allowedHosts: HostPolicy
  readonly rateLimit: RateLimitConfig | false
}

/** Connection and subscription limits (limits.ts). */
export interface LimitsConfig {
  /** Open sockets on this registration; 0 means no limit. */
  readonly maxConnections: number
  /** Open sockets of one client id; 0 means no limit. */
  readonly maxConnectionsPerClient: number
  readonly maxSubscriptionsPerConnection: number
}

/** The inbound rate limit of each socket (rate-limit.ts). */
export interface RateLimitConfig {
  /** Frames per second a socket may send on average. */
  readonly perSecond: number
  /** Frames a socket may send at once after being quiet. */
  readonly burst: number
}

export interface ObservabilityConfig {
  /** Serve the dashboard page at `${path}/dashboard`. */
  readonly dashboard: boolean
  /** Serve `${path}/metrics`; `registry` null: a registry of this registration's own. */
  readonly metrics: false | { readonly registry: Registry | null }
  /** Serve `${path}/asyncapi.json`. */
  readonly asyncapi: boolean
}
