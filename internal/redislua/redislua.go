// Package redislua holds the Lua scripts that scsession's Redis stores
// (redisstore on redigo, goredisstore on go-redis) share, so that both keep
// one contract, written once.
package redislua

// Swap is SwapStore's CompareAndSwap on one key: it sets KEYS[1] to
// ARGV[2], expiring at ARGV[3] (Unix ms), or deletes it when ARGV[5] is
// "1", if it holds ARGV[1] (or, when ARGV[4] is "0", if it holds nothing).
// It answers {1} when it did, {0} when the key holds nothing, {0, value}
// otherwise.
const Swap = `
local cur = redis.call('GET', KEYS[1])
local expected
if ARGV[4] == '1' then expected = ARGV[1] else expected = false end
if cur == expected then
	if ARGV[5] == '1' then
		redis.call('DEL', KEYS[1])
	else
		redis.call('SET', KEYS[1], ARGV[2])
		redis.call('PEXPIREAT', KEYS[1], ARGV[3])
	end
	return {1}
end
if cur == false then return {0} end
return {0, cur}
`

// Renew is RenewStore's CompareAndRenew on one node: if KEYS[1] holds
// ARGV[1], it sets KEYS[2] to ARGV[2], expiring at ARGV[3] (Unix ms), and
// deletes KEYS[1]. It answers {1} when it did (or did already: a client's
// retry), {0} when KEYS[1] holds nothing, {0, value} otherwise, and the
// error TokenTaken if KEYS[2] holds another session already. Its two keys
// may be in different slots: never on a cluster.
const Renew = `
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] then
	if cur == false and redis.call('GET', KEYS[2]) == ARGV[2] then return {1} end -- a retry of a renewal that was done
	if cur == false then return {0} end
	return {0, cur}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
	return redis.error_reply('` + TokenTaken + `')
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('PEXPIREAT', KEYS[2], ARGV[3])
redis.call('DEL', KEYS[1])
return {1}
`

// TokenTaken is the error Renew answers when the new token is taken.
const TokenTaken = "scsession: a session is stored under the new token already"
