// This instance's copy of the cluster-wide history kept in Redis. Offsets and epochs are assigned
// in Redis (redis-scripts.ts); the adapter feeds each message here, in offset order, in the same
// synchronous step that delivers it, so resume and `latest` answer synchronously from memory
// exactly as with the in-memory store (history.ts), with the cluster's offsets.
import type { ChannelConfig } from './options'
import type { HistoryPosition, HistoryStore, ResumePosition } from './history'

/** One channel's kept messages: contiguous offsets, oldest = offset - count + 1. */
class ChannelMirror {
  /** Empty until the first read from Redis. */
  epoch = ''
  offset = 0
  count = 0
  readonly latest: boolean
  readonly capacity: number
  readonly #ttl: number
  readonly #messages: Array<string | undefined>
  readonly #times: Float64Array
  #head = 0

  constructor (size: number, ttl: number, latest: boolean) {
    this.capacity = size
    this.#ttl = ttl
    this.latest = latest
    this.#messages = new Array<string | undefined>(size)
    this.#times = new Float64Array(size)
  }

  /** Starts over at another epoch (or after a hole): nothing kept, the next offset is offset + 1. */
  reset (epoch: string, offset: number): void {
    this.epoch = epoch
    this.offset = offset
    this.#messages.fill(undefined)
    this.#head = 0
    this.count = 0
  }

  push (json: string, time: number): void {
    this.offset++
    const index = (this.#head + this.count) % this.capacity
    this.#messages[index] = json
    this.#times[index] = time
    if (this.count < this.capacity) this.count++
    else this.#head = (this.#head + 1) % this.capacity
  }

  evict (now: number): void {
    if (this.#ttl === 0) return
    const oldestKept = now - this.#ttl
    while (this.count > 0 && this.#times[this.#head] < oldestKept) {
      this.#messages[this.#head] = undefined
      this.#head = (this.#head + 1) % this.capacity
      this.count--
    }
  }

  slice (from: number): string[] {
    const oldest = this.offset - this.count + 1
    const result: string[] = []
    for (let offset = from; offset <= this.offset; offset++) {
      result.push(this.#messages[(this.#head + offset - oldest) % this.capacity] as string)
    }
    return result
  }
}

/** The HistoryStore of an instance in a Redis cluster. */
export class MirroredHistory implements HistoryStore {
  readonly #mirrors = new Map<string, ChannelMirror>()

  constructor (channels: ReadonlyMap<string, ChannelConfig>) {
    for (const { name, history, latest } of channels.values()) {
      if (history !== null) this.#mirrors.set(name, new ChannelMirror(history.size, history.ttl, latest))
    }
  }

  has (channel: string): boolean {
    return this.#mirrors.has(channel)
  }

  /** Offsets are assigned in Redis, never here: the publisher leaves this to the adapter. */
  append (): string {
    throw new Error('fastify-ws-notify: offsets of a Redis cluster are assigned in Redis')
  }

  /** The channel's epoch and latest offset as far as this instance has received. */
  position (channel: string): HistoryPosition | undefined {
    const mirror = this.#mirrors.get(channel)
    return mirror === undefined ? undefined : { epoch: mirror.epoch, offset: mirror.offset }
  }

  /**
   * Kept messages after `since`; null when some are not kept here, including when the client has
   * seen more than this instance has received yet (it is never sent a message twice).
   */
  after (channel: string, since: ResumePosition): string[] | null {
    const mirror = this.#mirrors.get(channel)
    if (mirror === undefined || mirror.epoch === '' || since.epoch !== mirror.epoch || since.offset > mirror.offset) return null
    mirror.evict(Date.now())
    if (since.offset + 1 < mirror.offset - mirror.count + 1) return null
    return mirror.slice(since.offset + 1)
  }

  latest (channel: string): string | undefined {
    const mirror = this.#mirrors.get(channel)
    if (mirror === undefined || !mirror.latest) return undefined
    mirror.evict(Date.now())
    return mirror.count === 0 ? undefined : mirror.slice(mirror.offset)[0]
  }

  size (): number {
    const now = Date.now()
    let held = 0
    for (const mirror of this.#mirrors.values()) {
      mirror.evict(now)
      held += mirror.count
    }
    return held
  }

  /** The channel's mirror, for the adapter that feeds it. */
  mirror (channel: string): ChannelMirror | undefined {
    return this.#mirrors.get(channel)
  }
}

export type { ChannelMirror }
