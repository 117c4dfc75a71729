// Serves the browser client (fastify-ws-notify/client, built to dist/lib/client/index.mjs) at
// `${path}/client.js`, so a plain page can `import { createClient } from '/ws/client.js'`.
import type { FastifyInstance } from 'fastify'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

interface ClientBundle {
  readonly code: string
  readonly etag: string
}

// Built beside this folder in dist/lib/; from the TypeScript sources (tests), in ../../dist.
const CANDIDATES = [
  join(__dirname, '..', 'client', 'index.mjs'),
  join(__dirname, '..', '..', 'dist', 'lib', 'client', 'index.mjs')
]

/** Reads the built client once; null when it was not built (`npm run build`). */
function loadBundle (): ClientBundle | null {
  for (const file of CANDIDATES) {
    let code: string
    try {
      code = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    // The source map is not served: drop the comment that points at it.
    code = code.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n')
    return { code, etag: `"${createHash('sha256').update(code).digest('base64url').slice(0, 27)}"` }
  }
  return null
}

export function registerClientRoute (fastify: FastifyInstance, path: string): void {
  let bundle: ClientBundle | null | undefined
  fastify.get(path === '/' ? '/client.js' : `${path}/client.js`, async (request, reply) => {
    bundle ??= loadBundle()
    if (bundle === null) {
      bundle = undefined // built later (watch mode): look again next time
      return await reply.code(404).send({ error: 'Not Found', message: 'the client is not built: run `npm run build`' })
    }
    // Revalidated on each load (cheap 304), so a page never runs a stale client after an upgrade.
    reply.header('cache-control', 'no-cache').header('etag', bundle.etag)
    if (request.headers['if-none-match'] === bundle.etag) return await reply.code(304).send()
    return await reply.type('text/javascript; charset=utf-8').send(bundle.code)
  })
}
