// Conformance of lib/ to the hand-written public declarations of 'fastify-ws-notify'
// (types/index.d.ts). The declarations stay hand-written (they carry the docs and the typed
// registry's generics); where lib has a shape of its own (a TypeBox schema's Static, an untyped
// implementation, a filled config), it is checked here against the public one, so a change to
// either side that the other does not follow fails `npm run test:types`. No NotifyRegistry
// augmentation here: lib is checked against the untyped surface, which every typed one narrows.
import type { Static } from '@sinclair/typebox'
import type Public = require('fastify-ws-notify')
import type * as lib from '../../../lib/index'
import type { ClusterStats, StatsResponseSchema } from '../../../lib/core/cluster-stats'
import type { StatsSnapshot } from '../../../lib/core/stats'
import type { AdapterFactory } from '../../../lib/core/adapter'
import type { RedisAdapterConfig, RedisAdapterOptions } from '../../../lib/cluster/redis-adapter'
import type { ExternalPublisher, ExternalPublisherOptions } from '../../../lib/cluster/external-publisher'
import type { createPublisher as createCorePublisher } from '../../../lib/core/publisher'
import type { AuthenticateHook, AuthorizeAction, AuthorizeHook } from '../../../lib/core/config-types'
import type { EventSchema } from '../../../lib/core/event-schema'
import type { ChannelConfig, HistoryConfig, InboxConfig, PresenceConfig, RateLimitConfig } from '../../../lib/core/config-types'
import type { Assignable, Same } from './assert'

// The module's exports: the same names, the same functions.
export type Exports = [
  Same<keyof typeof lib, keyof typeof Public>,
  Same<typeof lib.defineChannels, typeof Public.defineChannels>,
  Assignable<typeof lib.notifications, typeof Public.notifications>,
  Same<keyof typeof lib.errors, Public.ErrorCode>
]

// Stats: lib's types are the Static of the route's response schemas (lib/core/stats.ts,
// lib/core/cluster-stats.ts); the public ones are NotificationStats and ClusterStats.
type PublicSnapshot = Omit<Public.NotificationStats, 'cluster'>
export type Stats = [
  Same<StatsSnapshot, PublicSnapshot>,
  Same<keyof StatsSnapshot, keyof PublicSnapshot>,
  Same<ClusterStats, Public.ClusterStats>,
  Same<keyof ClusterStats, keyof Public.ClusterStats>,
  Same<Static<typeof StatsResponseSchema>, Public.NotificationStats>,
  Same<keyof Static<typeof StatsResponseSchema>, keyof Public.NotificationStats>
]

// redisAdapter and createPublisher: lib's options take an ioredis `Redis` where the public ones
// take any RedisClient (ioredis is an optional peer: the declarations must compile without it).
// Every other option is the same, and what they return meets the public type.
type WithoutRedis<T> = Omit<T, 'redis'>
type PublicPublisherOptions = Public.ExternalPublisherOptions<Public.ChannelsOption>
export type Redis = [
  Same<keyof RedisAdapterOptions, keyof Public.RedisAdapterOptions>,
  Same<WithoutRedis<RedisAdapterOptions>, WithoutRedis<Public.RedisAdapterOptions>>,
  Assignable<RedisAdapterOptions['redis'], Public.RedisAdapterOptions['redis']>,
  Same<Parameters<typeof lib.redisAdapter>, [RedisAdapterOptions]>,
  Assignable<AdapterFactory, Public.AdapterFactory>,
  Assignable<ReturnType<typeof lib.redisAdapter>, ReturnType<typeof Public.redisAdapter>>,
  Same<keyof ExternalPublisherOptions, keyof PublicPublisherOptions>,
  Same<WithoutRedis<ExternalPublisherOptions>, WithoutRedis<PublicPublisherOptions>>,
  Assignable<ExternalPublisherOptions['redis'], PublicPublisherOptions['redis']>,
  Same<Parameters<typeof lib.createPublisher>, [ExternalPublisherOptions]>,
  Same<keyof ExternalPublisher, keyof Public.ExternalPublisher<Public.ChannelsOption>>,
  Assignable<ExternalPublisher, Public.ExternalPublisher<Public.ChannelsOption>>
]

// notify, sendTo and broadcast are untyped in lib (publisher.ts, validated at run time): the
// untyped public functions, which index.ts hands out as the typed ones.
type CorePublisher = ReturnType<typeof createCorePublisher>
export type Publishing = [
  Same<CorePublisher['notify'], Public.UntypedNotify>,
  Same<CorePublisher['sendTo'], Public.SendToFunction>,
  Same<CorePublisher['broadcast'], Public.BroadcastFunction>
]

// authenticate and authorize as lib calls them (lib/transports/auth.ts).
type PublicOptions = Public.NotificationsOptions
export type Auth = [
  Same<AuthenticateHook, NonNullable<PublicOptions['authenticate']>>,
  Same<AuthorizeHook, NonNullable<PublicOptions['authorize']>>,
  Same<AuthorizeAction, Public.AuthorizeContext['action']>
]

// A TypeBox schema lib compiles is one the public EventSchema accepts.
export type Schemas = [Assignable<EventSchema, Public.EventSchema>]

// Each filled config holds every option of its public type, and nothing the options lack: a new
// option that no reader fills (or a config field no option sets) fails here. A channel's config
// has its `name` besides its declaration.
export type FilledConfigs = [
  Same<keyof RateLimitConfig, keyof Public.RateLimitOptions>,
  Same<keyof InboxConfig, keyof Public.InboxOptions>,
  Same<keyof HistoryConfig, keyof Public.HistoryOptions>,
  Same<keyof PresenceConfig, keyof Public.PresenceOptions>,
  Same<keyof RedisAdapterConfig, keyof Public.RedisAdapterOptions>,
  Same<Exclude<keyof ChannelConfig, 'name'>, keyof Public.ChannelDeclaration>
]
