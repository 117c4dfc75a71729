// Conformance of lib/client/index.mts (and the Node EventSource of lib/client/event-source.ts) to
// 'fastify-ws-notify/client' (types/client.d.mts). The class Client itself `implements
// NotifyClient<E>`; here, the exported functions and the error class against their declarations.
import type * as Public from 'fastify-ws-notify/client'
import type * as lib from '../../../lib/client/index.mjs'
import type { ResumePosition } from '../../../lib/core/history.js'
import type { NodeEventSource } from '../../../lib/client/event-source.js'
import type { Assignable, Same } from './assert.js'

export type Client = [
  Same<keyof typeof lib, keyof typeof Public>,
  Same<typeof lib.createClient, typeof Public.createClient>,
  Same<typeof lib.closeCodeAction, typeof Public.closeCodeAction>,
  Same<typeof lib.NotifyClientError, typeof Public.NotifyClientError>,
  Same<lib.NotifyClientError, Public.NotifyClientError>,
  Same<keyof lib.NotifyClientError, keyof Public.NotifyClientError>
]

// The position a client resumes from is the server's (lib/core/history.ts).
export type Resume = [
  Same<ResumePosition, Public.ResumePosition>,
  Same<keyof ResumePosition, keyof Public.ResumePosition>
]

// What the CLI passes as `EventSource` in Node.
export type EventSource = [Assignable<typeof NodeEventSource, Public.EventSourceConstructor>]
