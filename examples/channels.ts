// The six channels of the service this plugin replaces, each event type with its TypeBox schema.
// Exported so an application can type `app.notify` with one declaration merge:
//
//   declare module 'fastify-ws-notify' {
//     interface NotifyRegistry { channels: typeof channels }
//   }
//
// The demo does not make that merge itself: it would apply to every file compiled with it (tests
// included). It types its own sample events with `TypedNotify` instead (see server.ts).
import { Type } from '@sinclair/typebox'

export const channels = {
  error_firewall: {
    events: {
      error_blocked: Type.Object({ error_id: Type.String(), reason: Type.String() })
    }
  },
  vector_search: {
    events: {
      search_progress: Type.Object({
        search_id: Type.String(),
        processed: Type.Integer({ minimum: 0 }),
        total: Type.Integer({ minimum: 0 })
      })
    }
  },
  db_pool_stats: {
    // A new dashboard gets the current pool state at once, without waiting for the next change.
    latest: true,
    events: {
      pool_resized: Type.Object({ old_size: Type.Integer({ minimum: 0 }), new_size: Type.Integer({ minimum: 0 }) })
    }
  },
  ai_analysis: {
    events: {
      analysis_complete: Type.Object({
        analysis_id: Type.String(),
        summary: Type.String(),
        confidence: Type.Number({ minimum: 0, maximum: 1 })
      })
    }
  },
  memory_updates: {
    events: {
      memory_updated: Type.Object({ key: Type.String(), version: Type.Integer({ minimum: 1 }) })
    }
  },
  system_alerts: {
    events: {
      alert_raised: Type.Object({
        severity: Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')]),
        message: Type.String()
      })
    }
  }
}

export type DemoChannel = keyof typeof channels
