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
   * Left empty, `notify` accepts `(string, string, unknown)`. Other keys, each optional:
   * `identity` (what `authenticate` returns, given to `authorize` and the `hooks`; it must extend
   * `Identity`), `directEvents` (event type -> data type of `sendTo`) and `broadcastEvents` (of
   * `broadcast`), for example `{ directEvents: { order_shipped: { id: string } } }`.
   */
  export interface NotifyRegistry {}

  /** The identity type: NotifyRegistry's `identity`, or `Identity`. */
  export type RegisteredIdentity = NotifyRegistry extends { identity: infer I extends Identity } ? I : Identity

  /** `sendTo` typed by an events map (type -> data). */
  export interface TypedSendTo<E> {
    <T extends keyof E & string>(clientId: string, type: T, data: E[T]): Promise<number>
  }

  /** `broadcast` typed by an events map (type -> data). */
  export interface TypedBroadcast<E> {
    <T extends keyof E & string>(type: T, data: E[T]): Promise<number>
  }

  /** The type of `sendTo`: typed when NotifyRegistry declares `directEvents`. */
  export type SendToFunction = NotifyRegistry extends { directEvents: infer E } ? TypedSendTo<E> : (clientId: string, type: string, data: unknown) => Promise<number>

  /** The type of `broadcast`: typed when NotifyRegistry declares `broadcastEvents`. */
  export type BroadcastFunction = NotifyRegistry extends { broadcastEvents: infer E } ? TypedBroadcast<E> : (type: string, data: unknown) => Promise<number>

  /** What every lifecycle hook is given about its socket. */
  export interface SocketContext<I = RegisteredIdentity> {
    readonly clientId: string
    /** What `authenticate` returned (the client id itself without `authenticate`). */
    readonly identity: I
    /** The upgrade request. */
    readonly request: FastifyRequest
  }

  /**
   * `hooks` option. Each runs after the fact (the `connected` or `subscribed` reply is written, the
   * socket closed); an async hook is not awaited, and whatever a hook throws or rejects with is
   * logged at error level, never thrown into the socket.
   */
  export interface LifecycleHooks<I = RegisteredIdentity> {
    /** A socket was accepted (after `authenticate`), its `connected` frame written. */
    onConnect?: (context: SocketContext<I>) => void | Promise<void>
    /** A socket closed, with its close code and reason. Not preceded by onUnsubscribe for the channels it held. */
    onDisconnect?: (context: SocketContext<I>, code: number, reason: string) => void | Promise<void>
    /** A socket joined a channel it did not hold (after `authorize`). */
    onSubscribe?: (context: SocketContext<I>, channel: string) => void | Promise<void>
    /** A socket left a channel it held, by an `unsubscribe` frame. */
    onUnsubscribe?: (context: SocketContext<I>, channel: string) => void | Promise<void>
  }

  /**
   * A TypeBox schema of either line: 0.34 (`@sinclair/typebox`), typed by its phantom `static`
   * member rather than by TypeBox's `Kind` symbol (ES-module and CommonJS programs load different
   * copies of TypeBox's declarations, whose symbols differ), or 1.x (`typebox`), marked by `~kind`.
   */
  export type EventSchema = { readonly static: unknown } | { readonly '~kind': string }

  /**
   * The data type of an event schema: 0.34's `static`, or for TypeBox 1 (which has no phantom
   * member) read from the JSON Schema shape its types carry, so that these declarations compile
   * without the `typebox` package. Kinds not read here (Codec, Cyclic, Ref, ...) give `unknown`.
   */
  export type StaticOf<S> = S extends { readonly static: infer Data } ? Data : TypeBox1Static<S>

  type TypeBox1Static<S> =
    S extends { readonly const: infer Value } ? Value
      : S extends { readonly enum: ReadonlyArray<infer Value> } ? Value
        : S extends { readonly anyOf: ReadonlyArray<infer Member> } ? TypeBox1Static<Member>
          : S extends { readonly allOf: infer Members extends readonly unknown[] } ? TypeBox1Intersect<Members>
            : S extends { readonly type: 'array', readonly items: infer Items } ? TypeBox1Items<Items>
              : S extends { readonly type: 'object', readonly properties: infer Properties } ? TypeBox1Object<Properties>
                : S extends { readonly type: 'object', readonly patternProperties: Record<string, infer Value> } ? Record<string, TypeBox1Static<Value>>
                  : S extends { readonly type: 'string' } ? string
                    : S extends { readonly type: 'integer' | 'number' } ? number
                      : S extends { readonly type: 'boolean' } ? boolean
                        : S extends { readonly type: 'null' } ? null
                          : unknown

  type TypeBox1Items<Items> = Items extends readonly unknown[]
    ? { -readonly [I in keyof Items]: TypeBox1Static<Items[I]> }
    : Array<TypeBox1Static<Items>>

  type TypeBox1Intersect<Members extends readonly unknown[]> =
    Members extends readonly [infer First, ...infer Rest] ? TypeBox1Static<First> & TypeBox1Intersect<Rest> : unknown

  type TypeBox1OptionalKeys<P> = { [K in keyof P]: P[K] extends { readonly '~optional': true } ? K : never }[keyof P]

  type TypeBox1Object<P> = Flatten<
    { [K in Exclude<keyof P, TypeBox1OptionalKeys<P>>]: TypeBox1Static<P[K]> } &
    { [K in TypeBox1OptionalKeys<P>]?: TypeBox1Static<P[K]> }
  >

  type Flatten<T> = { [K in keyof T]: T[K] } & {}

  /** One channel: its event types with a TypeBox schema for each. Without `events`, any type and any JSON data. */
  export interface ChannelDeclaration {
    readonly events?: Readonly<Record<string, EventSchema>>
    /** Keep recent notifications so a reconnecting client can resume; `false` opts out of the plugin default. */
    readonly history?: HistoryOptions | false
    /** A new subscriber receives the channel's last message right after `subscribed` (kept even without history). */
    readonly latest?: boolean
    /** Who is on the channel may be read (`presence`, `presence_stats` actions, `app.notifications.presence()`). Default `false`. */
    readonly presence?: boolean
    /** Subscribers receive `join`/`leave` when a client id's first socket subscribes and its last one leaves; implies `presence`. Default `false`. */
    readonly joinLeave?: boolean
    /**
     * `'latest'`: a subscriber that is behind (its earlier frames not yet taken by the kernel) gets
     * only the newest message per `conflateBy` key once it drains, instead of a queue, and is never
     * closed as a slow consumer for this channel. Default `'all'`.
     */
    readonly delivery?: 'all' | 'latest'
    /** With `delivery: 'latest'`: the data field whose value keys conflation (`query_id`); without it the channel is one key. */
    readonly conflateBy?: string
  }

  /** Plugin-wide `presence` option: bounds and what of a member is shown. */
  export interface PresenceOptions {
    /** Milliseconds a client id stays a member after its last socket left, so a reconnect does not flap. Default 2 000. */
    readonly grace?: number
    /** Members one channel holds on one instance; a new member past it gets `CHANNEL_FULL`. Default 100 000. */
    readonly maxMembers?: number
    /** Members listed in one presence reply; past it the reply has `truncated: true` and `total`. Default 1 000. */
    readonly maxListed?: number
    /** The public info of a member (needs `authenticate`): what the app chooses to show, never the whole identity by default. */
    readonly info?: (identity: RegisteredIdentity) => unknown
  }

  /** One member of a presence channel. */
  export interface PresenceMember {
    readonly client: string
    readonly info?: unknown
  }

  /** `app.notifications.presence(channel)`: at most `maxListed` members, `total` in all. */
  export interface PresenceList {
    readonly members: PresenceMember[]
    readonly total: number
    readonly truncated: boolean
  }

  /** `app.notifications.presenceStats(channel)`: sockets (`clients`) and distinct client ids (`users`). */
  export interface PresenceCounts {
    readonly clients: number
    readonly users: number
  }

  /** The 4th argument of `authorize`: what is asked. */
  export interface AuthorizeContext {
    readonly action: 'subscribe' | 'presence'
  }

  /** How much history a channel keeps: at most `size` messages, each for at most `ttl` milliseconds. */
  export interface HistoryOptions {
    readonly size: number
    readonly ttl?: number
    /**
     * On a namespace (`'user:*'`): how many of its channels keep a history at once (default 10 000);
     * the least recently used one is dropped for a new one (with the Redis adapter: the one used
     * least recently without subscribers on that instance; its Stream stays in Redis).
     */
    readonly channels?: number
  }

  /** The `inbox` option: how many direct messages are kept per client id, and for how long. */
  export interface InboxOptions {
    /** Messages kept per client id (default 100); past it, the oldest goes and a later resume gets `recovered: false`. */
    readonly size?: number
    /** Milliseconds a message stays replayable (default 86 400 000, one day). */
    readonly ttl?: number
    /** Client ids whose inbox is kept in memory at once, least recently used dropped first (default 10 000; unused with Redis, where `ttl` expires the keys). */
    readonly clients?: number
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
    /**
     * Write window in milliseconds: a WebSocket's frames wait up to this long and go out in one
     * write (one timer per registration). Less CPU per delivery, up to this much more latency.
     * SSE streams are not windowed. Default 0 (off: each event-loop tick's frames go out at its end).
     */
    flushInterval?: number
    /**
     * Write fan-outs to plain TCP sockets with the native addon (one call for all the sockets that
     * get the same bytes, one write(2) each) when the install step built it; otherwise, and with
     * `false`, through each socket's stream. Default `true`. `app.notifications.nativeWrites` tells
     * which one this registration uses.
     */
    nativeWrites?: boolean
    /** A broker adapter for several instances, such as `redisAdapter({ redis })`. Default: this process only. */
    adapter?: AdapterFactory
    /**
     * Serve Server-Sent Events at `${path}/sse?channel=a&channel=b` for networks that break
     * WebSocket upgrades: the same envelopes, checks, limits and stats as a WebSocket. Default `false`.
     */
    sse?: boolean
    /**
     * Keep direct messages (`sendTo`) per client id so a client that was away gets them on its
     * next connect with `?inbox_since=EPOCH:OFFSET` (the browser client sends it itself). Needs
     * `authenticate`. In memory, or in Redis Streams with the Redis adapter. Default `false`.
     */
    inbox?: InboxOptions | false
    /**
     * Runs on every upgrade request (a preValidation hook, so `request.jwtVerify()`, cookies or
     * headers work). Return the identity (a client id string, or an object with `id` and anything
     * else `authorize` needs) or `null`/`false` to refuse with HTTP 401. A thrown error is answered by
     * Fastify's error handler with its `statusCode`. The identity's id is the client id; a
     * `client_id` query is then ignored. Default: none (the client id is whatever the client claims).
     */
    authenticate?: (request: FastifyRequest) => AuthenticateResult<RegisteredIdentity> | Promise<AuthenticateResult<RegisteredIdentity>>
    /**
     * Runs on every `subscribe` (not for channels the socket already holds), and on every presence
     * read of a subscriber (`context.action` is `'presence'`). Only `true` allows;
     * anything else, or a rejection, is a `FORBIDDEN` error. Replies of one socket stay in the order
     * its frames were sent, even while this is pending. Default: declared channels are open to all,
     * a namespace channel (`user:*`) only to the identity it names (`user:42` for identity `42`).
     */
    authorize?: (identity: RegisteredIdentity, channel: string, request: FastifyRequest, context: AuthorizeContext) => boolean | Promise<boolean>
    /** Bounds of presence channels and the public info of their members. */
    presence?: PresenceOptions
    /** Server-side lifecycle hooks: onConnect, onDisconnect, onSubscribe, onUnsubscribe. Default: none. */
    hooks?: LifecycleHooks
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
  export type AuthenticateResult<I = Identity> = I | null | false | undefined

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
    /** Messages of `delivery: 'latest'` channels replaced by a newer one before a subscriber that was behind got them. */
    messages_conflated: number
    history_messages: number
    /** Direct messages kept in inboxes in this process's memory (0 with the Redis adapter: they are in Redis). */
    inbox_messages: number
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
  export interface ClusterStats extends Omit<NotificationStats, 'uptime_seconds' | 'cluster' | 'inbox_messages'> {
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
    /** The same as the instances' `inbox` option: sendTo() keeps each message in the client id's inbox (Redis Streams). */
    inbox?: InboxOptions | false
  }

  /** notify() and sendTo() from a process without Fastify; each resolves with the number of instances reached. */
  export interface ExternalPublisher<C extends ChannelsOption> {
    notify: TypedNotify<ChannelEvents<C>>
    sendTo: SendToFunction
    /** To every socket of every instance, subscribed or not. */
    broadcast: BroadcastFunction
    /** Closes the Redis client if the publisher opened it from a URL. */
    close (): Promise<void>
  }

  /** The Redis adapter: every instance sharing Redis (and `keyPrefix`) delivers every notification. */
  export function redisAdapter (options: RedisAdapterOptions): AdapterFactory
  /** `defineChannels` defaults, folded into each channel's declaration. */
  export interface ChannelDefaults {
    /** History of every channel whose declaration does not say `history` (namespaces excepted). */
    history?: HistoryOptions | false
  }

  /**
   * One declarations object for the instances and `createPublisher` alike: `defaults.history` is
   * folded into each channel, so a worker's messages to those channels get offsets too. Typed as given.
   */
  export function defineChannels<const C extends Readonly<Record<string, ChannelDeclaration>>> (channels: C, defaults?: ChannelDefaults): C
  /** Publishes to a cluster through Redis, with the same typing and validation as `app.notify`. */
  export function createPublisher<const C extends ChannelsOption> (options: ExternalPublisherOptions<C>): ExternalPublisher<C>

  type AnyEvents = Record<string, unknown>

  /**
   * The channel names a declared name stands for: itself, or for a namespace (`user:*`) every
   * `user:${string}`. A lone `*` is an ordinary name.
   */
  type ChannelKey<K> = K extends `${infer Prefix}*` ? (Prefix extends '' ? K : `${Prefix}${string}`) : K

  type EventsOfDeclaration<D> = D extends { readonly events: infer E }
    ? { [T in keyof E]: StaticOf<E[T]> }
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

  /** Whether a declaration's flag `Key` may be true (`true`, or a `boolean` widened from an object literal). */
  type MayBeOn<D, Key extends string> = D extends Readonly<Record<Key, infer P>> ? (true extends P ? true : false) : false
  /** The channels of a declaration with presence (or joinLeave), namespaces as `user:${string}`. */
  export type PresenceChannelOf<C> = C extends readonly string[]
    ? never
    : { [K in keyof C & string]: MayBeOn<C[K], 'presence'> extends true ? ChannelKey<K> : MayBeOn<C[K], 'joinLeave'> extends true ? ChannelKey<K> : never }[keyof C & string]
  /** The channel of `app.notifications.presence()`: one with presence when NotifyRegistry declares `channels`, else any string. */
  export type PresenceChannel = NotifyRegistry extends { channels: infer C } ? PresenceChannelOf<C> : string

  /** The type of `app.notify`: typed when NotifyRegistry declares `channels`. */
  export type NotifyFunction = NotifyRegistry extends { channels: infer C } ? TypedNotify<ChannelEvents<C>> : UntypedNotify

  /** `app.notifications`: everything beyond `notify`. */
  export interface NotificationsApi {
    /** Same as `app.notify`. */
    notify: NotifyFunction
    /** Direct message to every socket of one client id; resolves with the number of sockets written. */
    sendTo: SendToFunction
    /**
     * `{type, data, broadcast: true}` to every socket (of every instance with a broker adapter),
     * whatever it subscribed to; resolves with the number of sockets written on this instance.
     */
    broadcast: BroadcastFunction
    /** The figures of `GET ${path}/stats`. */
    stats (): NotificationStats
    /** Declared channel names. */
    channels (): string[]
    /** Closes every socket of a client id (default code 1000); returns how many were closed. */
    disconnect (clientId: string, code?: number, reason?: string): number
    /** Members of a presence channel (cluster-wide with the Redis adapter); rejects with FST_WS_NOTIFY_NO_PRESENCE on another channel. */
    presence (channel: PresenceChannel): Promise<PresenceList>
    /** Sockets and members of a presence channel, in O(1). */
    presenceStats (channel: PresenceChannel): Promise<PresenceCounts>
    /** true when fan-outs are written by the native addon (option `nativeWrites`, and the addon built); false: through the streams. */
    readonly nativeWrites: boolean
  }

  /** Every code of the plugin's errors (lib/core/errors.ts). */
  export type ErrorCode =
    | 'FST_WS_NOTIFY_INVALID_OPTION' | 'FST_WS_NOTIFY_ALREADY_REGISTERED' | 'FST_WS_NOTIFY_UNKNOWN_CHANNEL'
    | 'FST_WS_NOTIFY_UNKNOWN_EVENT' | 'FST_WS_NOTIFY_INVALID_PAYLOAD' | 'FST_WS_NOTIFY_MESSAGE_TOO_LARGE'
    | 'FST_WS_NOTIFY_UNSERIALIZABLE' | 'FST_WS_NOTIFY_INVALID_CLIENT_ID' | 'FST_WS_NOTIFY_INVALID_TYPE'
    | 'FST_WS_NOTIFY_CLOSED' | 'FST_WS_NOTIFY_INVALID_IDENTITY' | 'FST_WS_NOTIFY_BROKER_UNAVAILABLE'
    | 'FST_WS_NOTIFY_MISSING_IOREDIS' | 'FST_WS_NOTIFY_INVALID_CLOSE' | 'FST_WS_NOTIFY_BROKER_TIMEOUT'
    | 'FST_WS_NOTIFY_WEBSOCKET_ORDER' | 'FST_WS_NOTIFY_NO_PRESENCE'

  /** One error of the plugin: an Error with its code (and the HTTP status Fastify answers with). */
  export type NotifyError<C extends ErrorCode = ErrorCode> = Error & { readonly code: C, readonly statusCode?: number }

  /** An error constructor of lib/core/errors.ts (@fastify/error): `new`, call, and `instanceof` narrow to its code. */
  export interface NotifyErrorConstructor<C extends ErrorCode> {
    new (...args: unknown[]): NotifyError<C>
    (...args: unknown[]): NotifyError<C>
    readonly prototype: NotifyError<C>
  }

  /** The error constructors of lib/core/errors.ts, each by its code. */
  export const errors: { readonly [C in ErrorCode]: NotifyErrorConstructor<C> }
  export const notifications: FastifyWsNotify
  export { notifications as default }
}

declare function fastifyWsNotify (...params: Parameters<FastifyWsNotify>): ReturnType<FastifyWsNotify>
export = fastifyWsNotify
