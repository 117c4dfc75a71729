// Public types of `fastify-ws-notify/client` (lib/client/index.mts): the browser and Node client.
// Handlers are typed from the same NotifyRegistry declaration as `app.notify`.
import type { ChannelDeclaration, ChannelEvents, ChannelName, ConcreteChannel, EventsOfChannel, NotifyRegistry } from './index.js'

/** The channels declaration the client is typed from: NotifyRegistry's, or any channel. */
export type RegisteredChannels = NotifyRegistry extends { channels: infer C } ? C : Readonly<Record<string, ChannelDeclaration>>

/**
 * One notification as received: the whole envelope, `data` typed by the channel's declared event
 * (for `user:42`, by the events of its namespace `user:*`).
 */
export type Notification<E, K extends ChannelName<E>> = {
  [T in keyof EventsOfChannel<E, K> & string]: {
    type: T
    channel: K
    data: EventsOfChannel<E, K>[T]
    /** ISO 8601, UTC. */
    timestamp: string
    /** On a channel with history: 1, 2, 3... per channel. */
    offset?: number
  }
}[keyof EventsOfChannel<E, K> & string]

/** A direct message (`app.notifications.sendTo`) or a broadcast (`broadcast`): no channel, untyped data. */
export interface DirectMessage {
  type: string
  data: unknown
  timestamp: string
  /** Present (true) on a broadcast to every socket. */
  broadcast?: true
  /** With the server's `inbox` option: this message's offset in the client id's inbox. */
  offset?: number
}

/** Where a client left a channel. */
export interface ResumePosition {
  epoch: string
  offset: number
}

/**
 * What the client does after a close code: `stop` (4000-4099, 1008: the session ends, no
 * reconnect), `later` (4100-4199, 1013: reconnect after at least a second, capped by `maxDelay`),
 * `now` (4200-4299: reconnect at once), `backoff` (any other: reconnect with the usual backoff).
 */
export type CloseCodeAction = 'stop' | 'later' | 'now' | 'backoff'

/** The class of a close code, as the client acts on it. */
export declare function closeCodeAction (code: number): CloseCodeAction

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed'

/** Events of a client and what their listeners receive. */
export interface ClientEventMap {
  /** The connection state changed. */
  state: ConnectionState
  /** The server greeted a new socket or stream (first connect and every reconnect), over `transport`. */
  connected: { clientId: string, availableChannels: string[], transport: Transport }
  /**
   * The client changed transport: with `transport: 'auto'`, the WebSocket upgrade failed (or the
   * socket was cut before the server's greeting) while the server answers HTTP, so it falls back
   * to Server-Sent Events for the rest of its life. `reason` says what happened.
   */
  transport: { transport: Transport, reason: string }
  /**
   * The socket closed or was found dead (code 4200). `willReconnect` is false after `close()`, with
   * `reconnect: false`, and after a close code that ends the session (4000-4099, 1008); then the
   * client is closed, and this is the last `disconnected`.
   */
  disconnected: { code: number, reason: string, willReconnect: boolean }
  /** A channel resumed after a reconnect: every message after `since.offset` follows, none is lost. */
  recovered: { channel: string, since: ResumePosition, epoch: string, offset: number }
  /**
   * Messages of a channel may be missing after a reconnect: its history no longer holds them,
   * the server restarted (another epoch), or the channel keeps no history (`since` undefined).
   * Refetch the state this channel describes.
   */
  gap: { channel: string, since: ResumePosition | undefined, epoch: string | undefined, offset: number | undefined }
  /** A direct message to this client. */
  message: DirectMessage
  /**
   * With the server's `inbox` option, on each `connected`: where the client id's inbox stands.
   * `recovered` is there when the client asked to resume (a reconnect): true, every direct message
   * missed since follows; false, some are lost (refetch what they describe).
   */
  inbox: { epoch: string, offset: number, recovered?: boolean }
  /**
   * A server error not tied to a pending `subscribe()`, a refused subscription (FORBIDDEN), a
   * refused upgrade (UNAUTHORIZED for HTTP 401, FORBIDDEN for 403: the client then closes), a
   * failing `token()` (TOKEN_FAILED), or a throwing handler.
   */
  error: NotifyClientError
}

/** What the client needs of a WebSocket: the browser's, or `ws`'s in Node. */
export interface WebSocketLike {
  readonly readyState: number
  send (data: string): void
  close (code?: number, reason?: string): void
  addEventListener (type: 'open' | 'message' | 'close' | 'error', listener: (event: SocketEvent) => void): void
}

/** An event of a WebSocket; the client reads `data` of message events and `code`/`reason` of close events. */
export interface SocketEvent {
  readonly type: string
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

/** What the client needs of an EventSource: the browser's, or `NodeEventSource` (lib/event-source) in Node. */
export interface EventSourceLike {
  readonly readyState: number
  close (): void
  addEventListener (type: 'open' | 'message' | 'error', listener: (event: SocketEvent) => void): void
}

export type EventSourceConstructor = new (url: string) => EventSourceLike

/**
 * How the client connects: `websocket` only, `sse` (Server-Sent Events at `${path}/sse`, the
 * server's `sse: true`) only, or `auto` (default): WebSocket, falling back to SSE when the upgrade
 * fails while the server answers HTTP (a proxy that refuses upgrades).
 */
export type TransportOption = 'auto' | 'websocket' | 'sse'
export type Transport = 'websocket' | 'sse'

export interface ReconnectOptions {
  /** Milliseconds before the first retry. Default 250. */
  initialDelay?: number
  /** Largest delay between retries, in milliseconds. Default 10 000. */
  maxDelay?: number
  /** Each failed attempt multiplies the delay by this. Default 2. */
  factor?: number
  /** Fraction of each delay that is random (0 to 1), so clients do not reconnect in step. Default 0.5. */
  jitter?: number
}

export interface ClientOptions {
  /** The WebSocket implementation. Default `globalThis.WebSocket` (browsers; Node 22+). In Node 20 pass `ws`'s. */
  WebSocket?: WebSocketConstructor
  /** `client_id` to connect with. Default: the one the server gave on the first connect, kept across reconnects. */
  clientId?: string
  /** Backoff between reconnects, or `false` to stay closed once the socket closes. */
  reconnect?: ReconnectOptions | false
  /** Milliseconds between the client's own pings; 0 disables dead-connection detection. Default 15 000. */
  pingInterval?: number
  /**
   * Credentials sent as the query parameter `tokenParam` of every upgrade (browsers cannot set
   * upgrade headers); the server's `authenticate` reads `request.query.token`. A function is
   * called before every connect and reconnect, so it can refresh an expiring token.
   */
  token?: string | (() => string | Promise<string>)
  /** Name of the query parameter carrying `token`. Default `token`. */
  tokenParam?: string
  /**
   * Milliseconds a ping may stay unanswered before the connection counts as dead and is replaced.
   * On SSE: how much longer than the server's heartbeat interval a stream may stay silent. Default 10 000.
   */
  pongTimeout?: number
  /** `auto` (default), `websocket` or `sse`. */
  transport?: TransportOption
  /** The EventSource implementation for SSE. Default `globalThis.EventSource` (browsers). */
  EventSource?: EventSourceConstructor
}

/** One handler's subscription to a channel. */
export interface Subscription<K extends string = string> {
  readonly channel: K
  /** Removes this handler; the channel is left when its last handler goes. */
  unsubscribe (): void
}

export interface NotifyClient<E = ChannelEvents<RegisteredChannels>> {
  /** The connection state now. */
  readonly state: ConnectionState
  /** The client id the server confirmed, once connected. */
  readonly clientId: string | undefined
  /** The transport in use now (or being tried). */
  readonly transport: Transport
  /**
   * Subscribes `handler` to a channel. Resolves once the server answered `subscribed`; rejects
   * with a NotifyClientError carrying the server's code (INVALID_CHANNEL, FORBIDDEN...). The
   * subscription survives reconnects: the client resumes it from the last offset it saw.
   */
  subscribe<K extends ChannelName<E>> (channel: ConcreteChannel<E, K>, handler: (notification: Notification<E, K>) => void): Promise<Subscription<K>>
  /** Adds a listener; returns a function that removes it. */
  on<N extends keyof ClientEventMap> (event: N, listener: (payload: ClientEventMap[N]) => void): () => void
  off<N extends keyof ClientEventMap> (event: N, listener: (payload: ClientEventMap[N]) => void): void
  /** Closes the socket for good: no reconnect; pending subscribes reject with code CLOSED. */
  close (): void
}

/** An error from the server (its `code`: INVALID_CHANNEL, FORBIDDEN...) or from the client (CLOSED, HANDLER_ERROR). */
export declare class NotifyClientError extends Error {
  readonly code: string
  readonly channel: string | undefined
  constructor (code: string, message: string, channel?: string)
}

/**
 * Opens a client to `url` (`ws://host/ws`, or a path such as `/ws` in a browser page) and keeps it
 * connected until `close()`. Typed from NotifyRegistry; or pass a channels declaration:
 * `createClient<ChannelEvents<typeof channels>>(url)`.
 */
export declare function createClient<E = ChannelEvents<RegisteredChannels>> (url: string, options?: ClientOptions): NotifyClient<E>

export type { ChannelEvents }
