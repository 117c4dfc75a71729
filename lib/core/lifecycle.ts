// Server-side lifecycle hooks (`hooks` option): the application hears each socket connect, join
// and leave a channel, and disconnect. A hook is the application's code run from a socket's
// listeners: whatever it throws or rejects with is logged, never thrown into the socket's loop,
// and an async hook is not awaited (frames of the socket are answered meanwhile, in order).
import type { FastifyBaseLogger } from 'fastify'
import type { LifecycleHooks, SocketContext } from '../../types/index'
import { FST_WS_NOTIFY_INVALID_OPTION } from './errors'

export type { LifecycleHooks, SocketContext }

type Hook<A extends unknown[]> = (context: SocketContext, ...args: A) => unknown

const HOOK_NAMES = ['onConnect', 'onDisconnect', 'onSubscribe', 'onUnsubscribe'] as const

/** The `hooks` option: null when absent or empty (no hook costs nothing per socket). */
export function readHooks (value: unknown): Readonly<LifecycleHooks> | null {
  if (value === undefined) return null
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FST_WS_NOTIFY_INVALID_OPTION(`hooks must be an object of functions (${HOOK_NAMES.join(', ')}); got ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}`)
  }
  const hooks: Record<string, unknown> = {}
  for (const [name, hook] of Object.entries(value)) {
    if (!(HOOK_NAMES as readonly string[]).includes(name)) {
      throw new FST_WS_NOTIFY_INVALID_OPTION(`hooks: unknown hook "${name}"; accepted: ${HOOK_NAMES.join(', ')}`)
    }
    if (typeof hook !== 'function') throw new FST_WS_NOTIFY_INVALID_OPTION(`hooks.${name} must be a function; got ${typeof hook}`)
    hooks[name] = hook
  }
  return Object.keys(hooks).length === 0 ? null : Object.freeze(hooks as LifecycleHooks)
}

/** Runs the hooks of one registration. */
export class Lifecycle {
  readonly #hooks: Readonly<LifecycleHooks>
  readonly #log: FastifyBaseLogger

  constructor (hooks: Readonly<LifecycleHooks>, log: FastifyBaseLogger) {
    this.#hooks = hooks
    this.#log = log
  }

  connect (context: SocketContext): void {
    this.#run('onConnect', context, this.#hooks.onConnect, [])
  }

  disconnect (context: SocketContext, code: number, reason: string): void {
    this.#run('onDisconnect', context, this.#hooks.onDisconnect, [code, reason])
  }

  subscribe (context: SocketContext, channel: string): void {
    this.#run('onSubscribe', context, this.#hooks.onSubscribe, [channel])
  }

  unsubscribe (context: SocketContext, channel: string): void {
    this.#run('onUnsubscribe', context, this.#hooks.onUnsubscribe, [channel])
  }

  #run<A extends unknown[]> (name: string, context: SocketContext, hook: Hook<A> | undefined, args: A): void {
    if (hook === undefined) return
    try {
      const result = hook(context, ...args)
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, (err: unknown) => this.#failed(name, context, err))
      }
    } catch (err) {
      this.#failed(name, context, err)
    }
  }

  #failed (name: string, context: SocketContext, err: unknown): void {
    this.#log.error({ err, clientId: context.clientId }, `fastify-ws-notify: the ${name} hook failed`)
  }
}
