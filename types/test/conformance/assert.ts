// What the conformance checks are made of: type instantiations whose constraints fail on drift,
// so tsc's error names the property, key or signature that differs.

/** Compiles only when A is assignable to B (one way: lib may be narrower or wider on purpose). */
export type Assignable<A extends B, B> = A

/**
 * Compiles only when A and B are each assignable to the other. (`A2` only lets B's constraint
 * name A without a circular constraint; never pass it.) Mutual assignability lets an optional key
 * of one side only pass: pair it with `Same<keyof A, keyof B>`.
 */
export type Same<A extends B, B extends A2, A2 = A> = [A, B]
