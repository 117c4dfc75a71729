// Inbound rate limit of one socket: a token bucket refilled lazily from timestamps when a frame
// arrives, so there is no timer per socket. Over the allowance a frame is refused with
// RATE_LIMITED; a client that keeps sending through `burst` refusals in a row is closed (1008).

export interface RateLimitConfig {
  /** Frames per second a socket may send on average. */
  readonly perSecond: number
  /** Frames a socket may send at once after being quiet. */
  readonly burst: number
}

/** What to do with one inbound frame. */
export type RateVerdict = 'accept' | 'refuse' | 'close'

/** A token bucket; `now` is passed in (milliseconds) so it can be tested with any clock. */
export class TokenBucket {
  readonly #perMs: number
  readonly #burst: number
  #tokens: number
  #updatedAt: number

  constructor (config: RateLimitConfig, now: number) {
    this.#perMs = config.perSecond / 1000
    this.#burst = config.burst
    this.#tokens = config.burst
    this.#updatedAt = now
  }

  /** Takes one token if there is one. */
  take (now: number): boolean {
    const elapsed = now - this.#updatedAt
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#perMs)
      this.#updatedAt = now
    }
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}

/** The per-socket limiter: a bucket plus the count of frames refused since the last accepted one. */
export class InboundRateLimiter {
  readonly #bucket: TokenBucket
  readonly #maxRefusals: number
  #refusedInARow = 0

  constructor (config: RateLimitConfig, now: number) {
    this.#bucket = new TokenBucket(config, now)
    this.#maxRefusals = config.burst
  }

  /** accept: handle the frame; refuse: answer RATE_LIMITED; close: close the socket with 1008. */
  check (now: number): RateVerdict {
    if (this.#bucket.take(now)) {
      this.#refusedInARow = 0
      return 'accept'
    }
    return ++this.#refusedInARow > this.#maxRefusals ? 'close' : 'refuse'
  }
}
