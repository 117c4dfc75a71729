// What the hub's conflation holds for each connection, read through Conflation.heldFor for the
// conflation and tests of test/conflation*.test.ts: each hold() is watched (in this test file's
// process only) and the most held for its connection kept.
import type { Test } from 'tap'
import { Conflation, type Conflatable } from '../lib/core/conflation'

export interface HeldWatch {
  /** The most messages held at once for each connection conflation was asked to hold for. */
  readonly peak: Map<Conflatable, number>
  /** What is held for `connection` now. */
  now (connection: Conflatable): number
}

export function watchHeld (t: Test): HeldWatch {
  const peak = new Map<Conflatable, number>()
  let conflation: Conflation | null = null
  const hold = Conflation.prototype.hold
  Conflation.prototype.hold = function (this: Conflation, connection, ...rest) {
    conflation = this
    const held = hold.call(this, connection, ...rest)
    peak.set(connection, Math.max(peak.get(connection) ?? 0, this.heldFor(connection)))
    return held
  }
  t.teardown(() => { Conflation.prototype.hold = hold })
  return { peak, now: (connection) => conflation?.heldFor(connection) ?? 0 }
}
