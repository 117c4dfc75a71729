// The Lua scripts of the Redis adapter. Each runs atomically in Redis, so a channel's offsets are
// one sequence for the whole cluster: the offset is taken, the message kept and published in one
// step that no other instance can interleave with.
//
// Keys of one channel C under prefix P (hash-tagged so both live in one Redis Cluster slot):
//   P{C}:state  hash { epoch, offset }   the channel's epoch and latest offset
//   P{C}:log    stream, id "<offset>-0", fields t (ms), g (publisher tag), m (JSON envelope)
// A missing state hash means the history was lost (Redis restarted empty, keys evicted): the
// caller's candidate epoch becomes the new one and offsets start again from 1.

/** The shared preamble: read the channel's epoch, or start a new one from ARGV[1]. */
export const ENSURE_EPOCH = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
end
`

/**
 * Publishes one notification of a history channel.
 * KEYS: state, log. ARGV: candidate epoch, envelope JSON up to its offset (history.ts,
 * offsetPrefix: it ends with `"offset":`; the script appends `offset .. '}'`, as withOffset does),
 * history size, pub/sub channel, publisher tag, time in ms.
 * Returns the number of subscribers (instances) that received it, as PUBLISH does.
 */
export const PUBLISH_WITH_OFFSET = `${ENSURE_EPOCH}
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
local json = ARGV[2] .. offset .. '}'
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], offset .. '-0', 't', ARGV[6], 'g', ARGV[5], 'm', json)
return redis.call('PUBLISH', ARGV[4], 'h ' .. epoch .. ' ' .. offset .. ' ' .. ARGV[5] .. '\\n' .. json)
`

/**
 * Reads where a channel's history stands and what it holds from an offset on.
 * KEYS: state, log. ARGV: candidate epoch, the epoch the caller knows, first offset wanted.
 * Returns { epoch, latest offset, [[id, [field, value...]]...] } (everything kept when the
 * epoch is not the caller's).
 */
export const READ_HISTORY = `${ENSURE_EPOCH}
local offset = tonumber(redis.call('HGET', KEYS[1], 'offset'))
local from = ARGV[3]
if epoch ~= ARGV[2] then from = '-' end
return { epoch, offset, redis.call('XRANGE', KEYS[2], from, '+') }
`
