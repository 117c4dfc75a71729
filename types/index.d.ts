// Public type surface of fastify-ws-notify. lib/ implements these types; the type tests in
// types/test/ prove them, with and without the user's NotifyRegistry declaration merge.
import type {
  FastifyPluginAsync,
  FastifyRequest,
  onRequestHookHandler,
  preHandlerHookHandler
} from 'fastify'
import type { Registry } from 'prom-client'

declare module 'fastify' {
  // Repeats Fastify's own type parameters: TypeScript merges only identical declarations.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  interface FastifyInstance<RawServer, RawRequest, RawReply, Logger, TypeProvider> {
    notify: fastifyWsNotify.NotifyFunction
    notifications: fastifyWsNotify.NotificationsApi
  }
}

type FastifyWsNotify = FastifyPluginAsync<fastifyWsNotify.NotificationsOptions>

// `export =` with a namespace (the official Fastify plugins' pattern): the same declarations serve
// `import notifications from` in ESM TypeScript, `import { notifications } from` and `require()`.
declare namespace fastifyWsNotify {
  /**
   * Augment this interface once to type `app.notify` from your channel declarations:
   *
   *   declare module 'fastify-ws-notify' {
   *     interface NotifyRegistry { channels: typeof channels }
   *   }
   *
   * Left empty, `notify` accepts `(string, string, unknown)`.
   */
  export interface NotifyRegistry {}

  /**
   * A TypeBox schema (any `TSchema`), typed by its phantom `static` member rather than by TypeBox's
   * `Kind` symbol: ES-module and CommonJS programs load different copies of TypeBox's declarations,
   * whose symbols differ, and a schema from either must fit.
   */
  export interface EventSchema {
    readonly static: unknown
  }

  /** One channel: its event types with a TypeBox schema for each. Without `events`, any type and any JSON data. */
  export interface ChannelDeclaration {
    readonly events?: Readonly<Record<string, EventSchema>>
    /** Keep recent notifications so a reconnecting client can resume; `false` opts out of the plugin default. */
    readonly history?: HistoryOptions | false
    /** A new subscriber receives the channel's last message right after `subscribed` (kept even without history). */
    readonly latest?: boolean
  }

  /** How much history a channel keeps: at most `size` messages, each for at most `ttl` milliseconds. */
  export interface HistoryOptions {
    readonly size: number
    readonly ttl?: number
    /**
     * On a namespace (`'user:*'`): how many of its channels keep a history at once (default 10 000);
     * the least recently used one is dropped for a new one. Namespaces keep no history with the
     * Redis adapter.
     */
    readonly channels?: number
  }

  /** `channels` option: a list of names (untyped), or a map from name to declaration. */
  export type ChannelsOption = readonly string[] | Readonly<Record<string, ChannelDeclaration>>

  /** Route options of the stats route: where it lives and hooks to put auth in front of it. */
  export interface StatsRouteOptions {
    url?: string
    onRequest?: onRequestHookHandler | onRequestHookHandler[]
    preHandler?: preHandlerHookHandler | preHandlerHookHandler[]
  }

  export interface NotificationsOptions {
    /** The channels clients may subscribe to. Required. */
    channels: ChannelsOption
    /**
     * WebSocket route. Default `'/ws'`. Fastify's register option `prefix` goes before it and
     * before every side route (`{ prefix: '/api' }`: `/api/ws`, `/api/ws/stats`); `logLevel` and
     * `logSerializers` apply to the plugin's routes.
     */
    path?: string
    /** `false` to leave `${path}/stats` out, or route options with hooks. Default `true`. */
    stats?: boolean | StatsRouteOptions
    /** Milliseconds between server pings; 0 disables. Default 30 000. */
    heartbeatInterval?: number
    /** Milliseconds without any inbound frame or pong before a socket is closed; 0 disables. Default 300 000. */
    idleTimeout?: number
    /** Largest inbound frame in bytes; larger closes the socket with 1009. Default 65 536. */
    maxPayload?: number
    /** Largest serialized outbound envelope in bytes. Default 1 048 576. */
    maxMessageSize?: number
    /** Milliseconds shutdown waits for close handshakes before terminating. Default 2 000. */
    closeTimeout?: number
    /**
     * Outbound bytes buffered for one socket (notifications and replies alike, resume replays
     * included) before `slowConsumer` applies. Default 1 048 576.
     */
    maxBufferedBytes?: number
    /** What to do with a socket over `maxBufferedBytes`: close it with 1013 (default) or drop its messages and replies. */
    slowConsumer?: 'close' | 'drop'
    /** A broker adapter for several instances, such as `redisAdapter({ redis })`. Default: this process only. */
    adapter?: AdapterFactory
    /**
     * Serve Server-Sent Events at `${path}/sse?channel=a&channel=b` for networks that break
     * WebSocket upgrades: the same envelopes, checks, limits and stats as a WebSocket. Default `false`.
     */
    sse?: boolean
    /**
     * Runs on every upgrade request (a preValidation hook, so `request.jwtVerify()`, cookies or
     * headers work). Return the identity (a client id string, or an object with `id` and anything
     * else `authorize` needs) or `null`/`false` to refuse with HTTP 401. A thrown error is answered by
     * Fastify's error handler with its `statusCode`. The identity's id is the client id; a
     * `client_id` query is then ignored. Default: none (the client id is whatever the client claims).
     */
    authenticate?: (request: FastifyRequest) => AuthenticateResult | Promise<AuthenticateResult>
    /**
     * Runs on every `subscribe` (not for channels the socket already holds). Only `true` allows;
     * anything else, or a rejection, is a `FORBIDDEN` error. Replies of one socket stay in the order
     * its frames were sent, even while this is pending. Default: declared channels are open to all,
     * a namespace channel (`user:*`) only to the identity it names (`user:42` for identity `42`).
     */
    authorize?: (identity: Identity, channel: string, request: FastifyRequest) => boolean | Promise<boolean>
    /**
     * Origins (`https://app.example.com`) allowed to open sockets besides same-origin pages and
     * non-browser clients (no `Origin` header), or a function deciding per origin. Others get HTTP 403.
     * Default: `[]`.
     */
    allowedOrigins?: readonly string[] | ((origin: string, request: FastifyRequest) => boolean)
    /**
     * Host names (`app.example.com`, no port) trusted for same-origin upgrades, or a function given
     * the Host header's name (lower case, no port). Same-origin is judged from `Host`, which DNS
     * rebinding controls, so a same-origin upgrade passes only for `localhost` (and `*.localhost`),
     * literal IP addresses, these hosts, or an origin listed in `allowedOrigins`; others get the
     * origin refusal (HTTP 403). Clients without `Origin` are not checked. Default: `[]`.
     */
    allowedHosts?: readonly string[] | ((host: string, request: FastifyRequest) => boolean)
    /** Open sockets on this server; over it the upgrade gets HTTP 503; 0 disables. Default 20 000. */
    maxConnections?: number
    /** Open sockets of one client id; over it the upgrade gets HTTP 503; 0 disables. Default 32. */
    maxConnectionsPerClient?: number
    /** Channels one socket may subscribe to; one more is `TOO_MANY_SUBSCRIPTIONS`. Default 128. */
    maxSubscriptionsPerConnection?: number
    /**
     * Inbound frames per socket: a token bucket of `burst` frames refilled at `perSecond`. Over it a
     * frame gets `RATE_LIMITED`; `burst` refusals in a row and the next frame closes with 1008.
     * `false` disables. Default `{ perSecond: 20, burst: 40 }`.
     */
    rateLimit?: false | RateLimitOptions
    /** History kept by every channel that does not say otherwise. Default: none. */
    history?: HistoryOptions | false
    /**
     * A live page at `${path}/dashboard` (numbers, rates chart, tail of one channel), behind the
     * stats route's hooks; needs `stats`. Default `false`.
     */
    dashboard?: boolean
    /**
     * Prometheus text at `${path}/metrics` through prom-client, behind the stats route's hooks:
     * `true` (a registry of this registration's own) or `{ registry }`. Default `false`.
     */
    metrics?: boolean | MetricsOptions
    /**
     * An AsyncAPI 3 document at `${path}/asyncapi.json` generated from the channel declarations,
     * behind the stats route's hooks. Default `true`, or `false` when `stats` is `false`.
     */
    asyncapi?: boolean
  }

  /** `metrics` option. */
  export interface MetricsOptions {
    /** Where the metrics are registered and which registry the route serves. Default: a new one. */
    registry?: Registry
  }

  /** `rateLimit` option. */
  export interface RateLimitOptions {
    /** Average frames per second (may be fractional). Default 20. */
    perSecond?: number
    /** Frames allowed at once after a quiet period (integer). Default 40. */
    burst?: number
  }

  /** Who a socket belongs to: a client id, or an object with the client id as `id`. */
  export type Identity = string | { readonly id: string }

  /** What `authenticate` returns: the identity, or `null`/`false`/`undefined` to refuse (HTTP 401). */
  export type AuthenticateResult = Identity | null | false | undefined

  /** The JSON body of `GET ${path}/stats`. */
  export interface NotificationStats {
    total_clients: number
    total_channels: number
    total_messages_sent: number
    total_connections_ever: number
    /** Subscribers per declared channel; a namespace (`user:*`) is one entry summing its channels. */
    channel_stats: Record<string, number>
    /** Declared channels with subscribers; a namespace is listed once as its pattern, never `user:42`. */
    active_channels: string[]
    uptime_seconds: number
    notifications_published: number
    bytes_sent: number
    messages_dropped: number
    slow_consumers_closed: number
    history_messages: number
    /** Broker (Redis) connection errors and failed publishes; 0 without a broker. */
    broker_errors: number
    /** Sockets closed for breaking the WebSocket protocol (invalid UTF-8, unmasked frame, bad opcode, frame over maxPayload). */
    protocol_errors: number
    /** WebSocket sockets open now (of `total_clients`). */
    websocket_clients: number
    /** Server-Sent Events streams open now (of `total_clients`). */
    sse_clients: number
    /** With `?scope=cluster`: the sums over every live instance. */
    cluster?: ClusterStats
  }

  /** The sums over live instances served by `GET ${path}/stats?scope=cluster`. */
  export interface ClusterStats extends Omit<NotificationStats, 'uptime_seconds' | 'cluster'> {
    /** Live instances that reported their figures. `history_messages` is the largest count: every instance holds a copy. */
    instances: number
    /**
     * Live instances (by id) that did not answer within `statsTimeout`: their figures are their last
     * report (at most three `statsInterval`s old). Empty when every instance answered.
     */
    unanswered: string[]
  }

  /** What `redisAdapter()` returns, for the `adapter` option (built by the plugin at registration). */
  export interface AdapterFactory {
    readonly name: string
    create (context: never): unknown
  }

  /**
   * An ioredis client, such as `fastify.redis`. Typed by what the adapter checks of it at run time
   * (it has `duplicate()` and `evalsha()`), not imported from ioredis: ioredis is an optional peer
   * dependency, and these types must compile without it.
   */
  export interface RedisClient {
    duplicate (...args: never[]): unknown
    evalsha (...args: never[]): unknown
  }

  export interface RedisAdapterOptions {
    /** An ioredis client such as `fastify.redis` (never closed by the adapter) or a `redis://` URL (opened and closed by it). */
    redis: RedisClient | string
    /** Prefix of every key and pub/sub channel; the same on every instance and publisher. Default `'fastify-ws-notify:'`. */
    keyPrefix?: string
    /** Milliseconds a notify() waits for Redis before rejecting. Default 5 000. */
    publishTimeout?: number
    /** Milliseconds registration waits for Redis. Default 5 000, or half of Fastify's `pluginTimeout` when that is less. */
    connectTimeout?: number
    /** Milliseconds between two reports of this instance's stats to Redis (the fallback of `?scope=cluster`). Default 5 000. */
    statsInterval?: number
    /** Milliseconds `?scope=cluster` waits for the other instances to answer. Default 500. */
    statsTimeout?: number
  }

  export interface ExternalPublisherOptions<C extends ChannelsOption> {
    /** An ioredis client (left open by close()) or a `redis://` URL (closed by close()). */
    redis: RedisClient | string
    /** The same declarations as the plugin's `channels`. */
    channels: C
    /** The same as the plugin's `history` option. */
    history?: HistoryOptions | false
    /** Must match the adapter's. Default `'fastify-ws-notify:'`. */
    keyPrefix?: string
    /** Largest serialized envelope in bytes. Default 1 048 576. */
    maxMessageSize?: number
    /** Milliseconds a notify() waits for Redis before rejecting. Default 5 000. */
    publishTimeout?: number
  }

  /** notify() and sendTo() from a process without Fastify; each resolves with the number of instances reached. */
  export interface ExternalPublisher<C extends ChannelsOption> {
    notify: TypedNotify<ChannelEvents<C>>
    sendTo (clientId: string, type: string, data: unknown): Promise<number>
    /** Closes the Redis client if the publisher opened it from a URL. */
    close (): Promise<void>
  }

  /** The Redis adapter: every instance sharing Redis (and `keyPrefix`) delivers every notification. */
  export function redisAdapter (options: RedisAdapterOptions): AdapterFactory
  /** Publishes to a cluster through Redis, with the same typing and validation as `app.notify`. */
  export function createPublisher<const C extends ChannelsOption> (options: ExternalPublisherOptions<C>): ExternalPublisher<C>

  type AnyEvents = Record<string, unknown>

  /**
   * The channel names a declared name stands for: itself, or for a namespace (`user:*`) every
   * `user:${string}`. A lone `*` is an ordinary name.
   */
  type ChannelKey<K> = K extends `${infer Prefix}*` ? (Prefix extends '' ? K : `${Prefix}${string}`) : K

  type EventsOfDeclaration<D> = D extends { readonly events: infer E }
    ? { [T in keyof E]: E[T] extends { readonly static: infer Data } ? Data : never }
    : AnyEvents

  /**
   * Event payload types of each declared name, read from a channels declaration. A namespace
   * keeps its pattern as key (`user:*`); ChannelName and EventsOfChannel read `user:42` from it.
   */
  export type ChannelEvents<C> =
    C extends readonly string[]
      ? { [K in C[number]]: AnyEvents }
      : { [K in keyof C]: EventsOfDeclaration<C[K]> }

  /** Every channel name of an events map: its names, and `user:${string}` for a namespace `user:*`. */
  export type ChannelName<E> = { [K in keyof E & string]: ChannelKey<K> }[keyof E & string]

  /** Prefixes of the namespaces of `E` that channel `K` is in (`user:` for `user:*`). */
  type NamespacesOf<E, K> = keyof E & string extends infer Key
    ? Key extends `${infer Prefix}*` ? (Prefix extends '' ? never : K extends `${Prefix}${string}` ? Prefix : never) : never
    : never
  /** The longest of some prefixes of one name: the one no other prefix extends. */
  type Longest<P, All = P> = P extends unknown
    ? ([All extends P ? never : All extends `${P & string}${string}` ? All : never] extends [never] ? P : never)
    : never

  /**
   * The declared name channel `K` falls under: itself, or the most specific namespace it is in
   * (`user:admin:7` is of `user:admin:*` before `user:*`), as at run time.
   */
  export type DeclarationOf<E, K> = K extends keyof E
    ? (K extends `${infer Prefix}*` ? (Prefix extends '' ? K : never) : K)
    : `${Longest<NamespacesOf<E, K>> & string}*`

  /** The events of channel `K` (`user:42`: those of its namespace `user:*`). */
  export type EventsOfChannel<E, K> = E[DeclarationOf<E, K> & keyof E]

  /**
   * `K` when it names a channel; `never` for a namespace pattern (`user:*`), which the server
   * refuses. An open events map (`Record<string, ...>`) is left as it is.
   */
  export type ConcreteChannel<E, K> = string extends keyof E
    ? K
    : K extends `${infer Prefix}*` ? (Prefix extends '' ? K : never) : K

  /** `notify` typed from one channels declaration. */
  export interface TypedNotify<E> {
    <K extends ChannelName<E>, T extends keyof EventsOfChannel<E, K> & string>(
      channel: ConcreteChannel<E, K>, type: T, data: EventsOfChannel<E, K>[T]
    ): Promise<number>
  }

  /** `notify` without a registry: any channel, type and data (checked at run time). */
  export type UntypedNotify = (channel: string, type: string, data: unknown) => Promise<number>

  /** The type of `app.notify`: typed when NotifyRegistry declares `channels`. */
  export type NotifyFunction = NotifyRegistry extends { channels: infer C } ? TypedNotify<ChannelEvents<C>> : UntypedNotify

  /** `app.notifications`: everything beyond `notify`. */
  export interface NotificationsApi {
    /** Same as `app.notify`. */
    notify: NotifyFunction
    /** Direct message to every socket of one client id; resolves with the number of sockets written. */
    sendTo (clientId: string, type: string, data: unknown): Promise<number>
    /** The figures of `GET ${path}/stats`. */
    stats (): NotificationStats
    /** Declared channel names. */
    channels (): string[]
    /** Closes every socket of a client id (default code 1000); returns how many were closed. */
    disconnect (clientId: string, code?: number, reason?: string): number
  }

  /** The error constructors of lib/errors.ts, by code. */
  export const errors: Readonly<Record<string, new (...args: unknown[]) => Error & { code: string, statusCode?: number }>>
  export const notifications: FastifyWsNotify
  export { notifications as default }
}

declare function fastifyWsNotify (...params: Parameters<FastifyWsNotify>): ReturnType<FastifyWsNotify>
export = fastifyWsNotify
