// Event schemas of both TypeBox lines: 0.34 (`@sinclair/typebox`, marked by its `Kind` symbol) and
// 1.x (`typebox`, marked by a non-enumerable `~kind` string). Each is compiled by its own TypeBox,
// so validation agrees with the types the user's TypeBox infers.
import { createRequire } from 'node:module'
import { KindGuard, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { FST_WS_NOTIFY_INVALID_OPTION } from './errors'

/** A compiled event schema: a check and the first failure (its JSON pointer and message). */
export interface EventCheck {
  Check (value: unknown): boolean
  firstError (value: unknown): { readonly path: string, readonly message: string } | undefined
}

/** A schema of either TypeBox line, as the options accept it. */
export type EventSchema = TSchema | TypeBox1Schema

interface TypeBox1Schema { readonly '~kind': string }

interface TypeBox1Validator {
  Check (value: unknown): boolean
  Errors (value: unknown): Array<{ instancePath: string, message: string }>
}

/** A TypeBox 1.x schema: `~kind` is its marker (0.34 uses a symbol, absent here). */
export function isTypeBox1Schema (value: unknown): value is TypeBox1Schema {
  return typeof value === 'object' && value !== null && typeof (value as Partial<TypeBox1Schema>)['~kind'] === 'string'
}

export function isEventSchema (value: unknown): value is EventSchema {
  return KindGuard.IsSchema(value) || isTypeBox1Schema(value)
}

/**
 * TypeBox 1's compiler, from the `typebox` package the application built its schemas with (not a
 * dependency of ours; Node's module cache keeps it loaded once). It is ES-module only: `require()`
 * of it needs Node 20.19+ or 22.12+.
 */
function typeBox1Compiler (): (schema: unknown) => TypeBox1Validator {
  try {
    return (createRequire(__filename)('typebox/compile') as { Compile: (schema: unknown) => TypeBox1Validator }).Compile
  } catch (err) {
    throw new FST_WS_NOTIFY_INVALID_OPTION(`channels: a TypeBox 1 schema needs the "typebox" package loadable with require() (npm install typebox; Node 20.19+ or 22.12+): ${(err as Error).message}`)
  }
}

/** Compiles a schema once, at registration; notify() runs only the compiled check. */
export function compileEventSchema (schema: EventSchema): EventCheck {
  if (KindGuard.IsSchema(schema)) {
    const check = TypeCompiler.Compile(schema)
    return {
      Check: (value) => check.Check(value),
      firstError (value) {
        const first = check.Errors(value).First()
        return first === undefined ? undefined : { path: first.path, message: first.message }
      }
    }
  }
  const validator = typeBox1Compiler()(schema)
  return {
    Check: (value) => validator.Check(value),
    firstError (value) {
      const [first] = validator.Errors(value)
      return first === undefined ? undefined : { path: first.instancePath, message: first.message }
    }
  }
}
