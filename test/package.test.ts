// Issue 19: what `npm pack` ships works in a fresh app. The package is packed from a copy of the
// sources without dist/ (a fresh clone: only `prepare`, which npm pack runs, builds it), and the tarball is installed
// into a CommonJS app and an ES-module TypeScript app, offline, from the npm cache that `npm ci`
// filled. The copy keeps the repository's dist/, which other test files read, untouched.
import { test } from 'tap'
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const exec = promisify(execFile)
const root = join(__dirname, '..')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')

/** What a clone holds that the build and `npm pack` read (no dist/, no tests). */
const SOURCES = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'ARCHITECTURE.md', 'docs', 'lib', 'types', 'examples']

async function run (command: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await exec(command, args, { cwd, maxBuffer: 16 * 1024 * 1024, timeout: 90_000 })
    return stdout
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string, stderr?: string }
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout}\n${stderr}`)
  }
}

interface LockEntry {
  version: string
  dependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  peerDependenciesMeta?: Record<string, { optional?: boolean }>
  [field: string]: unknown
}

const repoPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as LockEntry & { name: string }
const repoLock = (JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }).packages

/** Where Node would find `name` from the package installed at `from` ('' for the app). */
function locate (from: string, name: string): string {
  for (let at = from; ; at = at.slice(0, Math.max(0, at.lastIndexOf('/node_modules/')))) {
    const key = `${at === '' ? '' : `${at}/`}node_modules/${name}`
    if (repoLock[key] !== undefined) return key
    if (at === '') throw new Error(`package-lock.json has no ${name} reachable from ${from || 'the root'}`)
  }
}

/**
 * A package-lock for an app depending on the tarball and `extra` packages, cut from the repository's
 * lock: `npm ci --offline` then fetches every package by its integrity from the cache `npm ci`
 * filled, and never needs the registry's metadata (which that cache does not hold).
 */
function lockFor (name: string, tarball: string, extra: string[]): { manifest: object, lock: object } {
  const packages: Record<string, LockEntry> = {}
  const pending: Array<[string, Record<string, string>]> = [['node_modules/fastify-ws-notify', repoPackage.dependencies ?? {}]]
  const dependencies: Record<string, string> = { 'fastify-ws-notify': `file:${tarball}` }
  for (const dep of extra) {
    dependencies[dep] = repoLock[locate('', dep)].version
    pending.push(['', { [dep]: dependencies[dep] }])
  }
  while (pending.length > 0) {
    const [from, deps] = pending.pop() as [string, Record<string, string>]
    for (const dep of Object.keys(deps)) {
      const key = from === 'node_modules/fastify-ws-notify' ? locate('', dep) : locate(from, dep)
      if (packages[key] !== undefined) continue
      // The repository's tree marks dev packages; here they are the app's own.
      const entry: LockEntry = { ...repoLock[key] }
      delete entry.dev
      delete entry.devOptional
      delete entry.peer
      packages[key] = entry
      // npm installs peers too, except optional ones (ioredis of ours).
      const peers = { ...entry.peerDependencies }
      for (const [peerName, meta] of Object.entries(entry.peerDependenciesMeta ?? {})) if (meta.optional === true) delete peers[peerName]
      pending.push([key, { ...peers, ...entry.dependencies, ...entry.optionalDependencies }])
    }
  }
  const { dependencies: own, peerDependencies, peerDependenciesMeta, license } = repoPackage
  packages['node_modules/fastify-ws-notify'] = {
    version: repoPackage.version, resolved: `file:${tarball}`, license, dependencies: own, peerDependencies, peerDependenciesMeta
  }
  const manifest = { name, version: '1.0.0', private: true, dependencies }
  return { manifest, lock: { name, version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': manifest, ...packages } } }
}

/** A fresh app in `dir` with the tarball and `extra` installed offline, from the npm cache only. */
async function installApp (dir: string, type: 'commonjs' | 'module', tarball: string, extra: string[]): Promise<void> {
  const { manifest, lock } = lockFor(`app-${type}`, tarball, extra)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...manifest, type }, null, 2))
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2))
  await run(npm, ['ci', '--offline', '--no-audit', '--no-fund'], dir)
}

// The ESM TypeScript app: default and named imports, the plugin on a real server, a ws client.
const ESM_APP = `import Fastify from 'fastify'
import WebSocket from 'ws'
import notifications, { redisAdapter, type NotificationStats } from 'fastify-ws-notify'
import { createClient } from 'fastify-ws-notify/client'

declare module 'fastify-ws-notify' {
  interface NotifyRegistry { channels: { orders: {} } }
}

const app = Fastify()
await app.register(notifications, { channels: { orders: {} } })
void (redisAdapter satisfies (options: { redis: string }) => unknown)
void createClient
const address = await app.listen({ port: 0, host: '127.0.0.1' })
const socket = new WebSocket(address.replace('http', 'ws') + '/ws')
const first = await new Promise<{ type: string, client_id: string }>((resolve, reject) => {
  socket.once('message', (data) => resolve(JSON.parse(String(data))))
  socket.once('error', reject)
})
const delivered: number = await app.notify('orders', 'order_created', { id: 1 })
const stats: NotificationStats = app.notifications.stats()
socket.close()
await app.close()
console.log(JSON.stringify({ type: first.type, delivered, clients: stats.total_clients }))
`

test('npm pack ships a package that installs and runs in fresh CJS and ESM TypeScript apps', async (t) => {
  t.setTimeout(110_000)
  const work = mkdtempSync(join(tmpdir(), 'fastify-ws-notify-pack-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))

  const clone = join(work, 'clone')
  for (const entry of SOURCES.filter((name) => existsSync(join(root, name)))) cpSync(join(root, entry), join(clone, entry), { recursive: true })
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir')
  const packed = join(work, 'packed')
  mkdirSync(packed)
  await run(npm, ['pack', '--pack-destination', packed], clone)
  const [tarball] = readdirSync(packed)
  t.match(tarball, /^fastify-ws-notify-.*\.tgz$/)
  const listing = await run('tar', ['-tzf', join(packed, tarball)], work)
  // The README's links lead into docs/ and ARCHITECTURE.md: shipped, so they work on the npm page.
  for (const file of ['package/dist/lib/index.js', 'package/dist/lib/client/index.mjs', 'package/types/index.d.ts', 'package/types/client.d.mts', 'package/LICENSE',
    'package/README.md', 'package/ARCHITECTURE.md', 'package/docs/PROTOCOL.md', 'package/docs/options.md']) {
    t.ok(listing.split('\n').includes(file), `the tarball ships ${file}`)
  }
  t.notOk(listing.split('\n').some((file) => file.endsWith('.png')), 'no screenshots')

  await t.test('CommonJS: require() gives the plugin and its named exports', async (t) => {
    const dir = join(work, 'cjs')
    cpSync(join(packed, tarball), join(dir, tarball))
    await installApp(dir, 'commonjs', tarball, [])
    const out = await run(process.execPath, ['-e', `
      const plugin = require('fastify-ws-notify')
      console.log([typeof plugin, typeof plugin.default, typeof plugin.notifications, typeof plugin.redisAdapter, typeof plugin.createPublisher].join(' '))
    `], dir)
    t.equal(out.trim(), 'function function function function function')
  })

  await t.test('ESM TypeScript: compiles against the packed types, registers, serves a ws client', async (t) => {
    const dir = join(work, 'esm')
    cpSync(join(packed, tarball), join(dir, tarball))
    await installApp(dir, 'module', tarball, ['fastify', 'ws', '@types/ws', '@types/node'])
    writeFileSync(join(dir, 'app.mts'), ESM_APP)
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, skipLibCheck: false, types: ['node'] },
      files: ['app.mts']
    }))
    // One tsc run checks the app against the packed types (a type error fails it) and emits it, to
    // run the package's ESM entry on a real socket.
    await run(process.execPath, [tsc, '-p', '.', '--outDir', 'out'], dir)
    const out = JSON.parse(await run(process.execPath, [join(dir, 'out', 'app.mjs')], dir)) as unknown
    t.same(out, { type: 'connected', delivered: 0, clients: 1 })
  })
})
