// Issue 18.8: with `user:*` declared before `user:admin:*`, `user:admin:x` belongs to the most
// specific pattern (`user:admin:*`), whatever the declaration order: default authorization, notify
// validation and stats all follow it.
import { test } from 'tap'
import { Type } from '@sinclair/typebox'
import { build, connect, fetchStats } from './helper'
import { ChannelPatterns } from '../lib/core/declared-channels'
import { buildConfig } from '../lib/config/options'
import type { NotificationsOptions } from '../types/index'

const authenticate: NotificationsOptions['authenticate'] = async (request) => String(request.headers['x-user'] ?? 'anon')
const as = (id: string) => ({ headers: { 'x-user': id } })

test('ChannelPatterns: the longest matching pattern wins, in either declaration order', async (t) => {
  for (const names of [['user:*', 'user:admin:*'], ['user:admin:*', 'user:*']]) {
    const patterns = new ChannelPatterns(names)
    t.equal(patterns.match('user:admin:x'), 'user:admin:*', `${names.join(', ')}: user:admin:x`)
    t.equal(patterns.match('user:42'), 'user:*', `${names.join(', ')}: user:42`)
    t.equal(patterns.match('user:admin:'), 'user:*', 'nothing after user:admin: is user:* with suffix "admin:"')
  }
})

test('the registration\'s declarations are the one resolver: name and declaration of every channel', async (t) => {
  const { channels } = buildConfig({
    channels: { 'user:*': { history: { size: 5 } }, 'user:admin:*': { delivery: 'latest' }, alerts: {} },
    authenticate
  })
  t.equal(channels.nameOf('alerts'), 'alerts', 'a declared channel is itself')
  t.equal(channels.nameOf('user:42'), 'user:*', 'a namespace channel is its pattern')
  t.equal(channels.nameOf('user:admin:1'), 'user:admin:*', 'the most specific pattern')
  t.equal(channels.nameOf('user:*'), undefined, 'a pattern itself is no channel')
  t.equal(channels.nameOf('nope'), undefined, 'an unknown name is none')
  t.equal(channels.declarationOf('user:admin:1')?.delivery, 'latest', 'its declaration')
  t.equal(channels.declarationOf('user:admin:1')?.history, null, 'and no history: user:*\'s is not inherited')
  t.equal(channels.declarationOf('user:42')?.history?.size, 5)
})

test('user:* declared first: identity x owns user:admin:x, identity admin:x does not', async (t) => {
  const channels = {
    'user:*': { events: { note: Type.Object({ text: Type.String() }) } },
    'user:admin:*': { events: { audit: Type.Object({ action: Type.String() }) } }
  }
  const { app, url, http } = await build(t, { channels, authenticate })
  const impostor = await connect(t, url, '', as('admin:x'))
  t.match(await impostor.request({ action: 'subscribe', channel: 'user:admin:x', id: 1 }), { type: 'error', code: 'FORBIDDEN', id: 1 },
    'user:admin:x is private to identity x of user:admin:*, not to admin:x of user:*')
  const owner = await connect(t, url, '', as('x'))
  t.match(await owner.request({ action: 'subscribe', channel: 'user:admin:x', id: 2 }), { type: 'subscribed', channel: 'user:admin:x', id: 2 })

  // notify validates against the most specific declaration's events.
  t.equal(await app.notify('user:admin:x', 'audit', { action: 'login' }), 1)
  await t.rejects(app.notify('user:admin:x', 'note', { text: 'hi' }), { code: 'FST_WS_NOTIFY_UNKNOWN_EVENT' })
  t.match((await owner.waitFor(3))[2], { type: 'audit', channel: 'user:admin:x' })

  t.same((await fetchStats(http)).channel_stats, { 'user:admin:*': 1 }, 'counted under the most specific pattern')
})
