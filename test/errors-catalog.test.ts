// The `errors` export is typed by name (types/index.d.ts ErrorCode): the type lists exactly the
// constructors lib/core/errors.ts exports, each under its own code.
import { test } from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { errors } from '../lib/index'

test('every error constructor is typed under its code, and the type names no other', async (t) => {
  const types = readFileSync(join(__dirname, '..', 'types', 'index.d.ts'), 'utf8')
  const union = /export type ErrorCode =([\s\S]*?)\n\n/.exec(types)
  if (union === null) throw new Error('types/index.d.ts declares no ErrorCode')
  const typed = [...union[1].matchAll(/'(FST_WS_NOTIFY_[A-Z_]+)'/g)].map((match) => match[1]).sort()
  t.same(Object.keys(errors).sort(), typed)
  for (const [name, Constructor] of Object.entries(errors)) t.equal(new (Constructor as new () => { code: string })().code, name)
})
