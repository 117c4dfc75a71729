// Issue 17: no import cycle in lib/, type-only imports included. A cycle of types is a cycle of
// concerns (options.ts read adapter.ts's types, which read options.ts's): the config types live
// in config-types.ts, which imports nothing that imports it back. Every import and export-from
// statement of lib/**/*.ts and lib/**/*.mts is read with TypeScript's parser.
import { test } from 'tap'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'

const lib = join(__dirname, '..', 'lib')

/** Every .ts and .mts file under `dir`, recursively. */
function sources (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return /\.m?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : []
  })
}

/** The module specifiers of a file's import, export-from and import-equals statements. */
function specifiers (file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022)
  const found: string[] = []
  for (const statement of source.statements) {
    if ((ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) &&
      statement.moduleSpecifier !== undefined && ts.isStringLiteral(statement.moduleSpecifier)) {
      found.push(statement.moduleSpecifier.text)
    } else if (ts.isImportEqualsDeclaration(statement) && ts.isExternalModuleReference(statement.moduleReference) &&
      ts.isStringLiteral(statement.moduleReference.expression)) {
      found.push(statement.moduleReference.expression.text)
    }
  }
  return found
}

/** The file of lib/ a relative specifier names (as node16 resolution does), or null outside lib/. */
function resolveIn (from: string, specifier: string): string | null {
  const target = resolve(dirname(from), specifier)
  if (relative(lib, target).startsWith('..')) return null
  const candidates = [target.replace(/\.js$/, '.ts'), target.replace(/\.mjs$/, '.mts'), `${target}.ts`, join(target, 'index.ts')]
  const file = candidates.find((candidate) => candidate !== target && existsSync(candidate)) ?? (existsSync(target) ? target : undefined)
  if (file === undefined) throw new Error(`${relative(lib, from)}: "${specifier}" names no file of lib/`)
  return file
}

/** lib/'s import graph: file (relative to lib/) -> the files of lib/ it imports. */
function importGraph (): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of sources(lib)) {
    const targets = specifiers(file).filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => resolveIn(file, specifier)).filter((target) => target !== null)
    graph.set(relative(lib, file), [...new Set(targets.map((target) => relative(lib, target)))])
  }
  return graph
}

/** One cycle per back edge of a depth-first walk, each as `a.ts -> b.ts -> a.ts`. */
export function cyclesOf (graph: ReadonlyMap<string, readonly string[]>): string[] {
  const cycles: string[] = []
  const done = new Set<string>()
  const path: string[] = []
  const visit = (node: string): void => {
    path.push(node)
    for (const next of graph.get(node) ?? []) {
      const at = path.indexOf(next)
      if (at !== -1) cycles.push([...path.slice(at), next].join(' -> '))
      else if (!done.has(next)) visit(next)
    }
    path.pop()
    done.add(node)
  }
  for (const node of [...graph.keys()].sort()) if (!done.has(node)) visit(node)
  return cycles
}

test('the cycle finder names a cycle, type-only or not, and passes a graph without one', async (t) => {
  t.same(cyclesOf(new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']]])), ['a.ts -> b.ts -> c.ts -> a.ts'])
  t.same(cyclesOf(new Map([['a.ts', ['a.ts']]])), ['a.ts -> a.ts'])
  t.same(cyclesOf(new Map([['a.ts', ['b.ts', 'c.ts']], ['b.ts', ['c.ts']], ['c.ts', []]])), [])
})

test('the graph holds what lib/ imports: type-only imports and export-from too', async (t) => {
  const graph = importGraph()
  t.ok(graph.size > 40, `${graph.size} files of lib/ read`)
  t.ok(graph.has('client/index.mts'), 'the client (.mts) is read')
  t.ok(graph.get('transports/limits.ts')?.includes('core/config-types.ts'), 'import type { Config, ... } from \'./config-types\'')
  t.ok(graph.get('core/sender.ts')?.includes('core/peer.ts'), 'export type { EncodedMessage } from \'./peer\'')
})

test('lib/ has no import cycle', async (t) => {
  t.same(cyclesOf(importGraph()), [], 'each cycle is named: break it (a type moved to the module both import, such as config-types.ts)')
})

test('config-types.ts imports no module of lib/ at run time', async (t) => {
  const file = join(lib, 'core', 'config-types.ts')
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022)
  const runtime = source.statements.filter((statement) => ts.isImportDeclaration(statement) && statement.importClause?.isTypeOnly !== true)
    .map((statement) => (statement as ts.ImportDeclaration).moduleSpecifier.getText(source))
  t.same(runtime, [], 'only `import type`')
})

test('the layers: lib/core/ imports nothing of lib/ outside core/ (the lint rule of eslint.config.mjs says it too)', async (t) => {
  const graph = importGraph()
  const core = [...graph.keys()].filter((file) => file.startsWith('core/'))
  t.ok(core.length >= 15, `core/ holds the hub, history, publisher and the seam (${core.length} files)`)
  const outside = core.flatMap((file) => (graph.get(file) ?? []).filter((target) => !target.startsWith('core/')).map((target) => `${file} -> ${target}`))
  t.same(outside, [], 'no import leaves core/')
  t.notOk(graph.has('hub.ts') || graph.has('options.ts'), 'no module is left flat in lib/ but index.ts')
  t.same([...graph.keys()].filter((file) => !file.includes('/')), ['index.ts'], 'lib/ itself holds only the wiring')
})
