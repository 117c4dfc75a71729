// Public type surface of fastify-ws-notify. lib/ implements these types; the type tests in
// types/test/ prove them, with and without the user's NotifyRegistry declaration merge.
import type {
  FastifyPluginAsync,
  onRequestHookHandler,
  preHandlerHookHandler
} from 'fastify'

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
    /** WebSocket route. Default `'/ws'`. */
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
    /** Outbound bytes buffered for one socket before `slowConsumer` applies. Default 1 048 576. */
    maxBufferedBytes?: number
    /** What to do with a socket over `maxBufferedBytes`: close it with 1013 (default) or drop its messages. */
    slowConsumer?: 'close' | 'drop'
  }

  /** The JSON body of `GET ${path}/stats`. */
  export interface NotificationStats {
    total_clients: number
    total_channels: number
    total_messages_sent: number
    total_connections_ever: number
    channel_stats: Record<string, number>
    active_channels: string[]
    uptime_seconds: number
    notifications_published: number
    bytes_sent: number
    messages_dropped: number
    slow_consumers_closed: number
  }

  type AnyEvents = Record<string, unknown>

  /** Event payload types of each channel, read from a channels declaration. */
  export type ChannelEvents<C> =
    C extends readonly string[]
      ? { [K in C[number]]: AnyEvents }
      : {
          [K in keyof C]: C[K] extends { readonly events: infer E }
            ? { [T in keyof E]: E[T] extends { readonly static: infer Data } ? Data : never }
            : AnyEvents
        }

  /** `notify` typed from one channels declaration. */
  export interface TypedNotify<E> {
    <K extends keyof E & string, T extends keyof E[K] & string>(channel: K, type: T, data: E[K][T]): Promise<number>
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
