// ioredis is an optional peer dependency: an application without it, compiled with
// skipLibCheck false, must still compile against our types. `paths` in this folder's tsconfig
// points ioredis (and typebox, TypeBox 1, just as optional) at a module that exports nothing, so
// any import from either in the types fails here.
import Fastify from 'fastify'
import notifications, { redisAdapter, type RedisClient } from 'fastify-ws-notify'

const app = Fastify()
app.register(notifications, { channels: ['a'], adapter: redisAdapter({ redis: 'redis://127.0.0.1:6379' }) })

// Any object with ioredis's duplicate() and evalsha() is taken for a client, as at run time.
const client: RedisClient = { duplicate: () => client, evalsha: async () => null }
redisAdapter({ redis: client })
// @ts-expect-error redis is a client or a URL
redisAdapter({ redis: {} })
