// Inbound rate limit of one socket: a token bucket kept as one timestamp (GCRA, the "generic cell
// rate algorithm": the time at which the bucket is full again), advanced when a frame arrives, so
// there is no timer and no object per socket. Over the allowance a frame is refused with
// RATE_LIMITED; a client that keeps sending through `burst` refusals in a row is closed (1008).
import type { RateLimitConfig } from '../core/config-types'

/** What to do with one inbound frame. */
export type RateVerdict = 'accept' | 'refuse' | 'close'

/** The two numbers a socket keeps for its limit; they live on the socket's own object. */
export interface RateState {
  /** Milliseconds: when the socket's bucket is full again (0: full). */
  rateFullAt: number
  /** Frames refused since the last accepted one. */
  refusedInARow: number
}

/** One registration's limit, applied to any number of sockets' RateState. */
export class InboundRateLimit {
  /** Milliseconds one token takes to come back. */
  readonly #interval: number
  /** How far ahead of now `rateFullAt` may be: burst - 1 tokens taken (with room for rounding). */
  readonly #tolerance: number
  readonly #maxRefusals: number

  constructor (config: RateLimitConfig) {
    this.#interval = 1000 / config.perSecond
    this.#tolerance = (config.burst - 1) * this.#interval * (1 + 1e-9)
    this.#maxRefusals = config.burst
  }

  /** Takes one token if there is one; `now` in milliseconds, from any clock that only goes on. */
  take (state: RateState, now: number): boolean {
    const fullAt = state.rateFullAt > now ? state.rateFullAt : now
    if (fullAt - now > this.#tolerance) return false
    state.rateFullAt = fullAt + this.#interval
    return true
  }

  /** accept: handle the frame; refuse: answer RATE_LIMITED; close: close the socket with 1008. */
  check (state: RateState, now: number): RateVerdict {
    if (this.take(state, now)) {
      state.refusedInARow = 0
      return 'accept'
    }
    return ++state.refusedInARow > this.#maxRefusals ? 'close' : 'refuse'
  }
}
