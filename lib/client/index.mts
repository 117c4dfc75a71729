// fastify-ws-notify/client: the browser and Node client. No dependencies, ESM; the plugin also
// serves the built file at `${path}/client.js`. It reconnects with capped exponential backoff and
// jitter, resubscribes every channel from the last offset it saw (the server replays what was
// missed), drops duplicates by offset, says `gap` when a resume could not be complete, and
// replaces a connection whose pings go unanswered. Where WebSocket upgrades fail (a proxy that
// refuses them) it falls back to Server-Sent Events (the server's `sse: true`): the same frames,
// channels given in the stream's URL, resume by `last_event_id`. Public types: types/client.d.mts.
import type {
  ClientEventMap,
  ClientOptions,
  CloseCodeAction,
  ConnectionState,
  EventSourceConstructor,
  EventSourceLike,
  Notification,
  NotifyClient,
  NotifyClientError as PublicNotifyClientError,
  ResumePosition,
  Subscription,
  Transport,
  TransportOption,
  WebSocketConstructor,
  WebSocketLike
} from '../../types/client.mjs'
import type { ChannelName, ConcreteChannel } from '../../types/index.js'

const OPEN = 1
/** Close code the client uses when it gives up on a dead socket: 42xx, reconnect at once. */
const DEAD_CONNECTION = 4200

/**
 * What a close code asks of the client, in Pusher's classes: 4000-4099 and 1008 (policy) end the
 * session (a kick, a refused identity: retrying would be refused again); 4100-4199 and 1013 (try
 * again later) reconnect after a longer delay; 4200-4299 reconnect at once; anything else (1000
 * normal, 1001 going away, 1006 lost, 1011, 1012 restart...) reconnects with the usual backoff
 * and resumes. 1000 reconnects because the server sends it for `disconnect()` and idle timeouts:
 * a session is ended on purpose with a 40xx code.
 */
export function closeCodeAction (code: number): CloseCodeAction {
  if (code === 1008 || (code >= 4000 && code <= 4099)) return 'stop'
  if (code === 1013 || (code >= 4100 && code <= 4199)) return 'later'
  if (code >= 4200 && code <= 4299) return 'now'
  return 'backoff'
}

/** The shortest wait before reconnecting after a "later" close (capped by `maxDelay`). */
const LATER_DELAY = 1000

export class NotifyClientError extends Error implements PublicNotifyClientError {
  readonly code: string
  readonly channel: string | undefined

  constructor (code: string, message: string, channel?: string) {
    super(message)
    this.name = 'NotifyClientError'
    this.code = code
    this.channel = channel
  }
}

type Frame = Record<string, unknown>
interface MessageLike { readonly data?: unknown }
interface CloseLike { readonly code?: number, readonly reason?: string }
interface Handler { readonly fn: (notification: never) => void }
interface Waiter { resolve: () => void, reject: (err: NotifyClientError) => void }

/** One subscribed channel: its handlers, and where its stream is. */
interface ChannelState {
  readonly channel: string
  readonly handlers: Set<Handler>
  /** Subscribe calls waiting for the server's reply. */
  waiters: Waiter[]
  active: boolean
  /** Epoch of the channel's history; undefined while unknown or when it keeps none. */
  epoch: string | undefined
  /** Where to resume from: the last offset seen (or the channel's offset when subscribed). */
  offset: number
  /** Messages with an offset up to this one were handed out already: dropped as duplicates. */
  floor: number
  /** The `since` of the subscribe in flight, to tell recovered from gap. */
  since: ResumePosition | undefined
}

function positiveNumber (value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`fastify-ws-notify/client: ${name} must be a number >= 0; got ${String(value)}`)
  }
  return value
}

const TRANSPORTS: readonly TransportOption[] = ['auto', 'websocket', 'sse']

/** The stream URL of a WebSocket route: `ws://host/ws?q` -> `http://host/ws/sse?q`. */
function streamUrlOf (url: URL): URL {
  const stream = new URL(url)
  stream.protocol = stream.protocol === 'wss:' ? 'https:' : 'http:'
  stream.pathname = stream.pathname.endsWith('/') ? `${stream.pathname}sse` : `${stream.pathname}/sse`
  return stream
}

// Implements the public interface, so that types/client.d.mts and this class cannot drift apart:
// `E` types `subscribe` only; at run time every channel and event is handled alike.
class Client<E> implements NotifyClient<E> {
  readonly #url: URL
  readonly #WebSocket: WebSocketConstructor | undefined
  readonly #EventSource: EventSourceConstructor | undefined
  /** What was asked for; `#transport` is what is used now. */
  readonly #transportOption: TransportOption
  #transport: Transport
  readonly #reconnect: { initialDelay: number, maxDelay: number, factor: number, jitter: number } | null
  readonly #pingInterval: number
  readonly #pongTimeout: number
  readonly #token: string | (() => string | Promise<string>) | undefined
  readonly #tokenParam: string
  readonly #channels = new Map<string, ChannelState>()
  /** Request id of each subscribe in flight -> its channel. */
  readonly #requests = new Map<string, ChannelState>()
  readonly #listeners = new Map<keyof ClientEventMap, Set<(payload: never) => void>>()
  #ws: WebSocketLike | null = null
  /** The SSE stream when the transport is SSE. */
  #es: EventSourceLike | null = null
  /** Milliseconds an SSE stream may stay silent before it counts as dead; 0: not watched. */
  #silenceBound = 0
  #silenceTimer: ReturnType<typeof setTimeout> | undefined
  /** A subscribe while on SSE reopens the stream with the new channel list, once per tick. */
  #reopenQueued = false
  /** The HTTP status of the refused upgrade that made `auto` fall back to SSE, if one was seen. */
  #fallbackStatus: number | undefined
  /** The channels the current stream's URL asked for. */
  #streamChannels = new Set<string>()
  #ready = false
  #state: ConnectionState = 'connecting'
  #clientId: string | undefined
  /** Where the client id's inbox stands (server `inbox` option): sent as `inbox_since` on reconnect. */
  #inbox: ResumePosition | undefined
  #attempt = 0
  #nextId = 0
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined
  #pingTimer: ReturnType<typeof setInterval> | undefined
  #pongTimer: ReturnType<typeof setTimeout> | undefined

  constructor (url: string, options: ClientOptions = {}) {
    const base = (globalThis as { location?: { href: string } }).location?.href
    this.#url = new URL(url, base)
    if (this.#url.protocol === 'http:') this.#url.protocol = 'ws:'
    else if (this.#url.protocol === 'https:') this.#url.protocol = 'wss:'
    const transport = options.transport ?? 'auto'
    if (!TRANSPORTS.includes(transport)) {
      throw new TypeError(`fastify-ws-notify/client: transport must be 'auto', 'websocket' or 'sse'; got ${String(transport)}`)
    }
    this.#transportOption = transport
    this.#transport = transport === 'sse' ? 'sse' : 'websocket'
    const Impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (typeof Impl !== 'function' && transport !== 'sse') {
      throw new TypeError('fastify-ws-notify/client: no global WebSocket here; pass one: createClient(url, { WebSocket }) with `import WebSocket from \'ws\'`')
    }
    this.#WebSocket = Impl
    this.#EventSource = options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource
    if (typeof this.#EventSource !== 'function' && transport === 'sse') {
      throw new TypeError('fastify-ws-notify/client: no global EventSource here; pass one: createClient(url, { transport: \'sse\', EventSource })')
    }
    this.#clientId = options.clientId
    const reconnect = options.reconnect ?? {}
    this.#reconnect = reconnect === false
      ? null
      : {
          initialDelay: positiveNumber(reconnect.initialDelay, 'reconnect.initialDelay', 250),
          maxDelay: positiveNumber(reconnect.maxDelay, 'reconnect.maxDelay', 10_000),
          factor: Math.max(1, positiveNumber(reconnect.factor, 'reconnect.factor', 2)),
          jitter: Math.min(1, positiveNumber(reconnect.jitter, 'reconnect.jitter', 0.5))
        }
    this.#pingInterval = positiveNumber(options.pingInterval, 'pingInterval', 15_000)
    this.#pongTimeout = positiveNumber(options.pongTimeout, 'pongTimeout', 10_000)
    if (options.token !== undefined && typeof options.token !== 'string' && typeof options.token !== 'function') {
      throw new TypeError('fastify-ws-notify/client: token must be a string or a function returning one')
    }
    this.#token = options.token
    this.#tokenParam = options.tokenParam ?? 'token'
    this.#connect()
  }

  get state (): ConnectionState { return this.#state }
  get clientId (): string | undefined { return this.#clientId }
  get transport (): Transport { return this.#transport }

  // The public signature, then the implementation's: handlers get whatever frame arrives.
  subscribe<K extends ChannelName<E>> (channel: ConcreteChannel<E, K>, handler: (notification: Notification<E, K>) => void): Promise<Subscription<K>>
  subscribe (channel: string, fn: (notification: never) => void): Promise<Subscription> {
    if (this.#state === 'closed') return Promise.reject(new NotifyClientError('CLOSED', 'the client is closed', channel))
    if (typeof channel !== 'string' || typeof fn !== 'function') {
      return Promise.reject(new TypeError('subscribe(channel, handler): channel must be a string and handler a function'))
    }
    const handler: Handler = { fn }
    const subscription = { channel, unsubscribe: () => this.#remove(channel, handler) }
    let state = this.#channels.get(channel)
    if (state === undefined) {
      state = { channel, handlers: new Set(), waiters: [], active: false, epoch: undefined, offset: 0, floor: 0, since: undefined }
      this.#channels.set(channel, state)
      if (this.#ready) {
        if (this.#transport === 'websocket') this.#sendSubscribe(state)
        else this.#queueReopen()
      }
    }
    state.handlers.add(handler)
    if (state.active) return Promise.resolve(subscription)
    const pending = state
    return new Promise((resolve, reject) => {
      pending.waiters.push({
        resolve: () => resolve(subscription),
        reject: (err) => { pending.handlers.delete(handler); reject(err) }
      })
    })
  }

  on<N extends keyof ClientEventMap> (event: N, listener: (payload: ClientEventMap[N]) => void): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) this.#listeners.set(event, (set = new Set()))
    set.add(listener as (payload: never) => void)
    return () => this.off(event, listener)
  }

  off<N extends keyof ClientEventMap> (event: N, listener: (payload: ClientEventMap[N]) => void): void {
    this.#listeners.get(event)?.delete(listener as (payload: never) => void)
  }

  close (): void {
    if (this.#state === 'closed') return
    const ws = this.#ws
    this.#detach()
    if (ws !== null) ws.close(1000, 'client closed')
    // (#detach closed the SSE stream, if any.)
    this.#shutdown(1000, 'client closed', new NotifyClientError('CLOSED', 'the client was closed before the server answered'))
  }

  /** Ends the client for good (socket already detached): pending subscribes reject, one `disconnected`. */
  #shutdown (code: number, reason: string, error: NotifyClientError): void {
    this.#setState('closed')
    clearTimeout(this.#reconnectTimer)
    this.#reconnectTimer = undefined
    for (const state of this.#channels.values()) this.#settle(state, error)
    this.#channels.clear()
    this.#emit('disconnected', { code, reason, willReconnect: false })
  }

  // ---- connection -----------------------------------------------------------------------

  #connect (): void {
    this.#reconnectTimer = undefined
    const url = new URL(this.#url)
    if (this.#clientId !== undefined) url.searchParams.set('client_id', this.#clientId)
    if (this.#inbox !== undefined) url.searchParams.set('inbox_since', `${this.#inbox.epoch}:${this.#inbox.offset}`)
    const token = this.#token
    if (typeof token !== 'function') {
      if (token !== undefined) url.searchParams.set(this.#tokenParam, token)
      this.#openTransport(url)
      return
    }
    // A function is asked on every connect, so an expired token is replaced before it is refused.
    Promise.resolve().then(token).then((value) => {
      if (this.#state === 'closed') return
      if (typeof value !== 'string') throw new TypeError(`token() must give a string; got ${typeof value}`)
      url.searchParams.set(this.#tokenParam, value)
      this.#openTransport(url)
    }).catch((err: unknown) => {
      if (this.#state === 'closed') return
      this.#emit('error', new NotifyClientError('TOKEN_FAILED', `token() failed: ${(err as Error)?.message ?? String(err)}`))
      this.#scheduleReconnect()
    })
  }

  #openTransport (url: URL): void {
    if (this.#transport === 'websocket') return this.#open(url)
    // The stream's URL lists the channels: the subscribes made in this tick (right after
    // createClient) go in it. Any made later reopen it (#queueReopen).
    queueMicrotask(() => { if (this.#state !== 'closed' && this.#es === null && this.#ws === null) this.#openStream(url) })
  }

  /** Makes a socket or stream; null (error told, reconnect scheduled) when the constructor throws. */
  #make<T> (make: () => T): T | null {
    try {
      return make()
    } catch (err) {
      this.#emit('error', new NotifyClientError('CONNECT_FAILED', (err as Error).message))
      this.#scheduleReconnect()
      return null
    }
  }

  #open (url: URL): void {
    const ws = this.#make(() => new (this.#WebSocket as WebSocketConstructor)(url.href))
    if (ws === null) return
    this.#ws = ws
    let opened = false
    let status: number | undefined
    ws.addEventListener('open', () => { opened = true })
    ws.addEventListener('message', (event) => { if (ws === this.#ws) this.#onFrame((event as MessageLike).data) })
    ws.addEventListener('close', (event) => {
      if (ws !== this.#ws) return
      const code = (event as CloseLike).code ?? 1006
      const reason = (event as CloseLike).reason ?? ''
      // Upgraded, then cut before the greeting: what a proxy that cannot carry WebSocket does.
      if (opened && !this.#ready && this.#canFallBack()) {
        this.#detach()
        return this.#fallBack(`the WebSocket closed (${code}) before the server's greeting`)
      }
      if (opened) return this.#onClose(code, reason)
      // Closed before the upgrade: refused or unreachable. `ws` gave the status in its error;
      // a browser gives none, so the same URL is asked over HTTP (authenticate sees the same query).
      this.#ws = null
      const answer = status !== undefined ? Promise.resolve(status) : probeStatus(url)
      answer.then((found) => {
        if (this.#state === 'closed' || this.#ws !== null) return
        // The server answers HTTP but the upgrade failed: something between may refuse WebSocket.
        // A 403 may be such a proxy's: the stream then asks the server itself (#openStream).
        if (found !== undefined && found !== 401 && this.#canFallBack()) this.#fallBack(`the WebSocket upgrade failed (HTTP ${found})`, found)
        else if (found === 401 || found === 403) this.#refused(found)
        else this.#onClose(code, reason)
      }, () => {})
    })
    // A failed socket also fires close, which reconnects; this listener keeps `ws` from throwing.
    ws.addEventListener('error', (event) => { status = statusOf(event) ?? status })
  }

  /** `auto`, still on WebSocket, and an EventSource to fall back on. */
  #canFallBack (): boolean {
    return this.#transportOption === 'auto' && this.#transport === 'websocket' && typeof this.#EventSource === 'function'
  }

  /** From now on, Server-Sent Events: connects again at once (nothing was connected). */
  #fallBack (reason: string, status?: number): void {
    this.#fallbackStatus = status
    this.#transport = 'sse'
    this.#emit('transport', { transport: 'sse', reason })
    this.#connect()
  }

  /**
   * Opens the SSE stream for every channel held, resuming each from where it is
   * (`last_event_id=a=epoch:offset&...`): the server answers with `subscribed` per channel.
   */
  #openStream (url: URL): void {
    const stream = streamUrlOf(url)
    const positions = new URLSearchParams()
    this.#streamChannels = new Set(this.#channels.keys())
    for (const state of this.#channels.values()) {
      stream.searchParams.append('channel', state.channel)
      state.since = state.epoch === undefined ? undefined : { epoch: state.epoch, offset: state.offset }
      if (state.since !== undefined) positions.set(state.channel, `${state.since.epoch}:${state.since.offset}`)
    }
    // Every frame as a `message` event carrying its JSON, heartbeats too (a page cannot see comments).
    stream.searchParams.set('events', 'message')
    stream.searchParams.set('heartbeat', 'event')
    const resume = positions.toString()
    if (resume !== '') stream.searchParams.set('last_event_id', resume)
    const es = this.#make(() => new (this.#EventSource as EventSourceConstructor)(stream.href))
    if (es === null) return
    this.#es = es
    es.addEventListener('message', (event) => { if (es === this.#es) this.#onStreamFrame((event as MessageLike).data) })
    // A browser's EventSource would retry by itself, without our backoff or resume: closed here.
    es.addEventListener('error', (event) => {
      if (es !== this.#es) return
      es.close()
      if (this.#ready) return this.#onClose(1006, 'the stream was lost')
      this.#es = null
      const status = statusOf(event)
      const answer = status !== undefined ? Promise.resolve(status) : probeStatus(stream)
      answer.then((found) => {
        if (this.#state === 'closed' || this.#es !== null || this.#ws !== null) return
        if (found === 401 || found === 403) return this.#refused(found)
        if (found === 404 && this.#transportOption === 'auto') {
          // Fell back to a server that offers no SSE: the upgrade's own refusal was the answer.
          const status = this.#fallbackStatus
          if (status === 403) return this.#refused(status)
          this.#transport = 'websocket'
          this.#emit('transport', { transport: 'websocket', reason: 'the server offers no Server-Sent Events (HTTP 404)' })
        }
        this.#onClose(1006, found === undefined ? '' : `HTTP ${found}`)
      }, () => {})
    })
  }

  #onStreamFrame (data: unknown): void {
    this.#watchSilence()
    const frame = parseFrame(data)
    if (frame === null) return
    // The stream's own ping and close carry no `data`: a notification or direct message of type
    // "ping" or "close" (which always has `data`) is handed out as one.
    switch ('data' in frame ? null : frame.type) {
      case 'ping': return
      case 'close': {
        // The server ends the stream with the code a WebSocket would get: the same decision follows.
        this.#onClose(typeof frame.code === 'number' ? frame.code : 1006, typeof frame.reason === 'string' ? frame.reason : '')
        return
      }
      case 'subscribed': {
        const state = this.#channels.get(frame.channel as string)
        if (state !== undefined) this.#subscribed(state, frame)
        return
      }
      case 'connected': {
        const interval = typeof frame.heartbeat_interval === 'number' ? frame.heartbeat_interval : 0
        this.#silenceBound = interval > 0 && this.#pingInterval > 0 ? interval + this.#pongTimeout : 0
        this.#watchSilence()
        return this.#onConnected(frame)
      }
    }
    this.#onParsed(frame)
  }

  /** An SSE stream silent for longer than the server's heartbeat allows is dead: replaced. */
  #watchSilence (): void {
    clearTimeout(this.#silenceTimer)
    this.#silenceTimer = this.#silenceBound === 0 ? undefined : setTimeout(() => this.#dead(), this.#silenceBound)
  }

  /** Reopens the stream once this tick's subscribes are in: SSE channels are fixed per stream. */
  #queueReopen (): void {
    if (this.#reopenQueued) return
    this.#reopenQueued = true
    queueMicrotask(() => {
      this.#reopenQueued = false
      if (!this.#ready || this.#transport !== 'sse' || this.#state === 'closed') return
      this.#detach()
      this.#connect()
    })
  }

  /** The server refused the upgrade (401/403): retrying with the same credentials cannot help. */
  #refused (status: number): void {
    this.#detach()
    const error = new NotifyClientError(status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', `the server refused the connection: HTTP ${status}`)
    this.#emit('error', error)
    this.#shutdown(1006, `upgrade refused: HTTP ${status}`, error)
  }

  /** Forgets the current socket: its late events are ignored (each listener checks identity). */
  #detach (): void {
    this.#ws = null
    const es = this.#es
    this.#es = null
    if (es !== null) es.close()
    clearTimeout(this.#silenceTimer)
    this.#silenceTimer = undefined
    this.#ready = false
    clearInterval(this.#pingTimer)
    clearTimeout(this.#pongTimer)
    this.#pingTimer = undefined
    this.#pongTimer = undefined
    this.#requests.clear()
    for (const state of this.#channels.values()) state.active = false
  }

  #onClose (code: number, reason: string): void {
    this.#detach()
    const action = closeCodeAction(code)
    if (this.#reconnect === null || action === 'stop') {
      // One `disconnected`, with the server's code: the session ends here.
      const error = new NotifyClientError('CLOSED', `the connection closed (${code}${reason === '' ? '' : ` ${reason}`}) before the server answered`)
      this.#shutdown(code, reason, error)
      return
    }
    this.#emit('disconnected', { code, reason, willReconnect: true })
    this.#scheduleReconnect(action)
  }

  #scheduleReconnect (action: CloseCodeAction = 'backoff'): void {
    if (this.#state === 'closed') return
    if (this.#reconnect === null) {
      this.close()
      return
    }
    const { initialDelay, maxDelay, factor, jitter } = this.#reconnect
    let ceiling = Math.min(maxDelay, initialDelay * factor ** this.#attempt)
    if (action === 'later') ceiling = Math.min(maxDelay, Math.max(LATER_DELAY, ceiling))
    // "Now" only right after a working connection: a server that keeps refusing gets the backoff.
    const delay = action === 'now' && this.#attempt === 0 ? 0 : ceiling * (1 - jitter * Math.random())
    this.#attempt++
    this.#setState('reconnecting')
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay)
  }

  /** A socket whose ping went unanswered: dropped at once, then replaced. */
  #dead (): void {
    if (this.#es !== null) return this.#onClose(DEAD_CONNECTION, 'no heartbeat on the stream')
    const ws = this.#ws as WebSocketLike & { terminate?: () => void }
    this.#onClose(DEAD_CONNECTION, 'no answer to ping')
    if (typeof ws.terminate === 'function') ws.terminate()
    else ws.close(DEAD_CONNECTION, 'no answer to ping')
  }

  #startPing (): void {
    if (this.#pingInterval === 0) return
    this.#pingTimer = setInterval(() => {
      if (this.#pongTimer !== undefined) return
      this.#send({ action: 'ping', id: `ping-${++this.#nextId}` })
      this.#pongTimer = setTimeout(() => this.#dead(), this.#pongTimeout)
    }, this.#pingInterval)
  }

  #send (frame: Frame): void {
    const ws = this.#ws
    if (ws !== null && ws.readyState === OPEN) ws.send(JSON.stringify(frame))
  }

  #sendSubscribe (state: ChannelState): void {
    const id = `sub-${++this.#nextId}`
    this.#requests.set(id, state)
    state.since = state.epoch === undefined ? undefined : { epoch: state.epoch, offset: state.offset }
    this.#send(state.since === undefined
      ? { action: 'subscribe', channel: state.channel, id }
      : { action: 'subscribe', channel: state.channel, id, since: state.since })
  }

  #remove (channel: string, handler: Handler): void {
    const state = this.#channels.get(channel)
    if (state === undefined || !state.handlers.delete(handler) || state.handlers.size > 0) return
    this.#channels.delete(channel)
    if (this.#ready) this.#send({ action: 'unsubscribe', channel })
  }

  // ---- inbound frames ---------------------------------------------------------------------

  #onFrame (data: unknown): void {
    const frame = parseFrame(data)
    if (frame !== null) this.#onParsed(frame)
  }

  #onParsed (frame: Frame): void {
    switch (frame.type) {
      case 'connected': return this.#onConnected(frame)
      case 'pong':
        clearTimeout(this.#pongTimer)
        this.#pongTimer = undefined
        return
      case 'subscribed': return this.#onSubscribed(frame)
      case 'unsubscribed': return
      case 'error': return this.#onError(frame)
    }
    if (typeof frame.channel === 'string') return this.#onNotification(frame.channel, frame)
    // A direct message kept in the inbox: resume after it; one seen already (a replay) is dropped.
    if (typeof frame.offset === 'number' && this.#inbox !== undefined && frame.broadcast === undefined) {
      if (frame.offset <= this.#inbox.offset) return
      this.#inbox = { epoch: this.#inbox.epoch, offset: frame.offset }
    }
    this.#emit('message', frame as unknown as ClientEventMap['message'])
  }

  #onConnected (frame: Frame): void {
    this.#ready = true
    this.#attempt = 0
    if (typeof frame.client_id === 'string') this.#clientId = frame.client_id
    this.#setState('open')
    const availableChannels = Array.isArray(frame.available_channels) ? frame.available_channels as string[] : []
    const inbox = this.#onInbox(frame.inbox)
    this.#emit('connected', { clientId: this.#clientId ?? '', availableChannels, transport: this.#transport })
    if (inbox !== undefined) this.#emit('inbox', inbox)
    // On SSE the stream's URL subscribed the channels (those subscribed since reopen it), and the
    // heartbeat is the server's.
    if (this.#transport === 'sse') {
      for (const channel of this.#channels.keys()) if (!this.#streamChannels.has(channel)) return this.#queueReopen()
      return
    }
    this.#startPing()
    for (const state of this.#channels.values()) this.#sendSubscribe(state)
  }

  /**
   * `connected.inbox`: resumed (`recovered: true`), the replay that follows moves the position on;
   * otherwise (first connect, or a gap) the client starts at the inbox's current offset.
   */
  #onInbox (value: unknown): ClientEventMap['inbox'] | undefined {
    if (typeof value !== 'object' || value === null) return undefined
    const { epoch, offset, recovered } = value as Record<string, unknown>
    if (typeof epoch !== 'string' || typeof offset !== 'number') return undefined
    if (recovered !== true || this.#inbox === undefined) this.#inbox = { epoch, offset }
    return typeof recovered === 'boolean' ? { epoch, offset, recovered } : { epoch, offset }
  }

  #onSubscribed (frame: Frame): void {
    const state = typeof frame.id === 'string' ? this.#requests.get(frame.id) : undefined
    if (state === undefined) return
    this.#requests.delete(frame.id as string)
    if (this.#channels.get(state.channel) !== state) return // left meanwhile
    this.#subscribed(state, frame)
  }

  /** A channel's `subscribed`, on either transport: recovered, gap or a fresh start. */
  #subscribed (state: ChannelState, frame: Frame): void {
    const since = state.since
    // A subscribe() call waits on a first subscribe; nobody waits on a resubscribe after a reconnect.
    const resumed = since !== undefined || state.waiters.length === 0
    const epoch = typeof frame.epoch === 'string' ? frame.epoch : undefined
    const offset = typeof frame.offset === 'number' ? frame.offset : undefined
    state.active = true
    if (epoch !== undefined && offset !== undefined && since !== undefined && frame.recovered === true) {
      state.floor = since.offset
      this.#emit('recovered', { channel: state.channel, since, epoch, offset })
    } else {
      // A fresh start: on a `latest` channel the last message (at `offset`) follows this reply.
      state.epoch = epoch
      state.offset = offset ?? 0
      state.floor = since === undefined ? state.offset - 1 : state.offset
      if (resumed) this.#emit('gap', { channel: state.channel, since, epoch, offset })
    }
    state.epoch = epoch
    this.#settle(state, null)
  }

  #onError (frame: Frame): void {
    const error = new NotifyClientError(String(frame.code), String(frame.message))
    const state = typeof frame.id === 'string' ? this.#requests.get(frame.id) : undefined
    if (state === undefined) {
      this.#emit('error', error)
      return
    }
    this.#requests.delete(frame.id as string)
    if (this.#channels.get(state.channel) !== state) return
    // The server refused the channel: it is dropped, and whoever waits for it is told.
    const refused = new NotifyClientError(error.code, error.message, state.channel)
    this.#channels.delete(state.channel)
    // An authorization refusal is always told, even to an awaited subscribe: it is a state to show.
    if (state.waiters.length === 0 || refused.code === 'FORBIDDEN') this.#emit('error', refused)
    this.#settle(state, refused)
  }

  #onNotification (channel: string, frame: Frame): void {
    const state = this.#channels.get(channel)
    if (state === undefined || !state.active) return
    const offset = frame.offset
    if (typeof offset === 'number') {
      if (offset <= state.floor) return // already handed out (a replay overlapping live delivery)
      state.floor = offset
      state.offset = offset
    }
    for (const handler of state.handlers) {
      try {
        handler.fn(frame as never)
      } catch (err) {
        const error = new NotifyClientError('HANDLER_ERROR', `a handler of "${channel}" threw: ${(err as Error)?.message ?? String(err)}`, channel)
        error.cause = err
        this.#emit('error', error)
      }
    }
  }

  #settle (state: ChannelState, error: NotifyClientError | null): void {
    const waiters = state.waiters
    state.waiters = []
    for (const waiter of waiters) {
      if (error === null) waiter.resolve()
      else waiter.reject(error)
    }
  }

  // ---- events -------------------------------------------------------------------------------

  #setState (state: ConnectionState): void {
    if (this.#state === state) return
    this.#state = state
    this.#emit('state', state)
  }

  #emit<N extends keyof ClientEventMap> (event: N, payload: ClientEventMap[N]): void {
    const set = this.#listeners.get(event)
    if (set === undefined || set.size === 0) {
      // An error nobody listens to is still seen, as an uncaught one would be.
      if (event === 'error') console.error(payload)
      return
    }
    for (const listener of [...set]) (listener as (payload: ClientEventMap[N]) => void)(payload)
  }
}

/** A frame's JSON object; null for anything else (not text, not JSON, not an object). */
function parseFrame (data: unknown): Frame | null {
  if (typeof data !== 'string') return null
  try {
    const frame = JSON.parse(data) as unknown
    return typeof frame === 'object' && frame !== null ? frame as Frame : null
  } catch {
    return null
  }
}

/** The HTTP status an error event names (`ws` and NodeEventSource say "Unexpected server response: 401"). */
function statusOf (event: unknown): number | undefined {
  const match = /Unexpected server response: (\d{3})/.exec(String((event as { message?: unknown }).message))
  return match === null ? undefined : Number(match[1])
}

/**
 * The HTTP status of `url` asked as a plain GET (ws: -> http:), or undefined when it cannot be
 * asked (no fetch, unreachable). Used only after a socket closed before opening.
 */
async function probeStatus (url: URL): Promise<number | undefined> {
  const fetchLike = (globalThis as { fetch?: (url: string, init: object) => Promise<{ status: number }> }).fetch
  if (typeof fetchLike !== 'function') return undefined
  const http = new URL(url)
  http.protocol = http.protocol === 'wss:' ? 'https:' : 'http:'
  try {
    return (await fetchLike(http.href, { cache: 'no-store', credentials: 'same-origin' })).status
  } catch {
    return undefined
  }
}

/** Opens a client to `url` and keeps it connected until `close()`. See types/client.d.mts. */
export function createClient<E> (url: string, options?: ClientOptions): NotifyClient<E> {
  return new Client<E>(url, options)
}
