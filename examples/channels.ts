// The six channels of the service this plugin replaces. Three carry the payloads that service
// sent (PROTOCOL.md, "The replaced service's events"), field for field, because its dashboards
// read exactly those fields out of `data`; the other three had no fixed payload there, so they
// are declared without `events`: any event type and any JSON data, as before.
//
// Type.Object allows additional properties unless told otherwise (`additionalProperties: false`):
// keep it so. A producer of the replaced service that sends a field more is still accepted, and
// the field is delivered as sent.
//
// Exported so an application can type `app.notify` with one declaration merge:
//
//   declare module 'fastify-ws-notify' {
//     interface NotifyRegistry { channels: typeof channels }
//   }
//
// The demo does not make that merge itself: it would apply to every file compiled with it (tests
// included). It types its own sample events with `TypedNotify` instead (see server.ts).
import { Type } from '@sinclair/typebox'

/**
 * ISO 8601 date and time, as the replaced service's producers wrote it: `Z`, an offset or no zone
 * (Python's `isoformat()`), any fraction of a second, `T` or a space between date and time.
 */
const IsoTimestamp = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})?$' })

/**
 * "searching" or "completed". A string with a pattern rather than a union of literals, so that a
 * wrong value is refused with the accepted values in the message (TypeBox says only "Expected
 * union value" for a union); `enum` says the same to JSON Schema readers (AsyncAPI).
 */
const SearchStatus = Type.Unsafe<'searching' | 'completed'>(
  Type.String({ enum: ['searching', 'completed'], pattern: '^(searching|completed)$' }))

export const channels = {
  error_firewall: {
    events: {
      error_blocked: Type.Object({
        error_id: Type.String(),
        solution: Type.String(),
        timestamp: Type.Optional(IsoTimestamp)
      })
    }
  },
  vector_search: {
    events: {
      search_progress: Type.Object({
        query_id: Type.String(),
        // Percent, fractional allowed and not capped at 100: the replaced service sent it so.
        progress: Type.Number({ minimum: 0 }),
        status: SearchStatus
      })
    }
  },
  db_pool_stats: {
    // A new dashboard gets the current pool state at once, without waiting for the next change.
    latest: true,
    events: {
      pool_resized: Type.Object({
        old_size: Type.Integer(),
        new_size: Type.Integer(),
        reason: Type.String(),
        utilization: Type.Optional(Type.String()) // such as "85%"
      })
    }
  },
  // No fixed payloads in the replaced service: any event type, any JSON data.
  ai_analysis: {},
  memory_updates: {},
  system_alerts: {}
}

export type DemoChannel = keyof typeof channels
