// The dashboard route (option `dashboard`): one self-contained HTML page at `${path}/dashboard`,
// behind the stats route's hooks. Its Content-Security-Policy allows only its own inline script
// and style (by hash) and connections to this origin: the page cannot reach any other host.
import type { FastifyInstance } from 'fastify'
import { createHash } from 'node:crypto'
import type { Config } from '../core/config-types'
import { CONFIG_PLACEHOLDER, DASHBOARD_HTML, DASHBOARD_SCRIPT, DASHBOARD_STYLE } from './dashboard-page'
import { sideRouteUrl, statsHooks } from './side-routes'
import { isChannelPattern } from '../core/declared-channels'

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

/** The CSP of the page: nothing but itself, its stats route and its WebSocket route. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256(DASHBOARD_SCRIPT)}`,
  `style-src ${sha256(DASHBOARD_STYLE)}`,
  // 'self' covers ws:/wss: of this origin (CSP level 3).
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

/** The page with its settings; JSON inside <script> with `<` escaped, so no value can close the tag. */
export function renderDashboard (config: Config): string {
  if (config.stats === false) throw new Error('the dashboard needs the stats route') // refused by options.ts first
  // Presence channels the page lists members of (a namespace's channels are per identity: not listed).
  const presence = [...config.channels.values()].filter((channel) => channel.presence && !isChannelPattern(channel.name)).map((channel) => channel.name)
  const settings = JSON.stringify({ statsUrl: config.stats.url, wsPath: config.path, presenceUrl: sideRouteUrl(config.path, 'presence'), presence })
    .replace(/</g, '\\u003c')
  return DASHBOARD_HTML.replace(CONFIG_PLACEHOLDER, () => settings)
}

/** Serves the page when `dashboard` is on. */
export function registerDashboard (fastify: FastifyInstance, config: Config): void {
  if (!config.dashboard) return
  const page = renderDashboard(config)
  fastify.get(sideRouteUrl(config.path, 'dashboard'), { ...statsHooks(config) }, async (_request, reply) => {
    return await reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', DASHBOARD_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-store')
      .send(page)
  })
}
