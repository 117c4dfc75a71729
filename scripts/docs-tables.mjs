// `npm run docs:tables`: rewrites the generated tables of the docs from the built lib/ (run after
// `npm run build`, which the script does first). Today one: the close codes of docs/PROTOCOL.md,
// between the markers of lib/core/close-codes.ts; test/close-codes.test.ts fails while they differ.
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const { CLOSE_CODE_MARKERS, closeCodeTable } = require('../dist/lib/core/close-codes.js')
const file = fileURLToPath(new URL('../docs/PROTOCOL.md', import.meta.url))

const text = readFileSync(file, 'utf8')
const begin = text.indexOf(CLOSE_CODE_MARKERS.begin)
const end = text.indexOf(CLOSE_CODE_MARKERS.end)
if (begin === -1 || end < begin) throw new Error(`docs/PROTOCOL.md: no ${CLOSE_CODE_MARKERS.begin} ... ${CLOSE_CODE_MARKERS.end}`)
const table = `${CLOSE_CODE_MARKERS.begin}\n${closeCodeTable('docs')}\n`
const next = text.slice(0, begin) + table + text.slice(end)
if (next === text) {
  console.log('docs/PROTOCOL.md: the close-code table is up to date')
} else {
  writeFileSync(file, next)
  console.log('docs/PROTOCOL.md: the close-code table rewritten')
}
