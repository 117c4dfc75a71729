// Issue 18.6: every side route that reveals state (stats, dashboard, metrics, asyncapi.json) goes
// through the one documented access hook, the stats route's onRequest/preHandler; a refusing hook
// blocks each of them over real HTTP. client.js is static code (no state): it stays public.
import { test } from 'tap'
import type { onRequestHookHandler, preHandlerHookHandler } from 'fastify'
import { build } from './helper'
import type { StatsRouteOptions } from '../types/index'

const GUARDED = ['stats', 'dashboard', 'metrics', 'asyncapi.json']
const token = { authorization: 'Bearer ops' }

const refuseOnRequest: onRequestHookHandler = async (request, reply) => {
  if (request.headers.authorization !== token.authorization) await reply.code(401).send({ error: 'Unauthorized' })
}
const refusePreHandler: preHandlerHookHandler = async (request, reply) => {
  if (request.headers.authorization !== token.authorization) await reply.code(403).send({ error: 'Forbidden' })
}

const cases: Array<[string, StatsRouteOptions, number]> = [
  ['onRequest', { onRequest: refuseOnRequest }, 401],
  ['preHandler', { preHandler: refusePreHandler }, 403],
  ['a list of onRequest hooks', { onRequest: [async () => {}, refuseOnRequest] }, 401]
]
for (const [hook, stats, status] of cases) {
  test(`a refusing stats ${hook} blocks every side route that reveals state`, async (t) => {
    const { http } = await build(t, { stats, dashboard: true, metrics: true, asyncapi: true })
    for (const route of GUARDED) {
      const refused = await fetch(`${http}/ws/${route}`)
      t.equal(refused.status, status, `${route} refused`)
      const body = await refused.text()
      t.notMatch(body, /total_clients|ws_notify_|asyncapi|<html/i, `${route}: nothing of the route's content`)
      t.equal((await fetch(`${http}/ws/${route}`, { headers: token })).status, 200, `${route} served to the allowed caller`)
    }
    t.equal((await fetch(`${http}/ws/client.js`)).status, 200, 'client.js is public (static code, no state)')
  })
}

test('a moved stats route: the side routes stay under path and behind the same hook; path "/"', async (t) => {
  const moved = await build(t, { stats: { url: '/internal/ws-stats', onRequest: refuseOnRequest }, dashboard: true, metrics: true })
  t.equal((await fetch(`${moved.http}/internal/ws-stats`)).status, 401)
  for (const route of ['dashboard', 'metrics', 'asyncapi.json']) t.equal((await fetch(`${moved.http}/ws/${route}`)).status, 401, route)
  const root = await build(t, { path: '/', stats: { onRequest: refuseOnRequest }, dashboard: true, metrics: true })
  for (const route of GUARDED) t.equal((await fetch(`${root.http}/${route}`)).status, 401, `/${route}`)
})
