package redisbroker

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strconv"

	"github.com/redis/rueidis"
)

// script is a Lua script run with EVALSHA, falling back to EVAL when the
// server does not know it (after a restart or SCRIPT FLUSH).
type script struct {
	src string
	sha string
}

func newScript(src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{src: src, sha: hex.EncodeToString(sum[:])}
}

// luaLib holds the helpers the publish and history scripts share.
const luaLib = `
local function fmt(n) return string.format('%d', n) end

-- seqOf returns the seq of a stream entry id "<seq>-0".
local function seqOf(id) return tonumber(string.match(id, '^(%d+)')) or 0 end

-- headOf reads the channel's head; if the meta hash was lost (an evicting
-- maxmemory policy) it falls back on the stream's last entry.
local function headOf(meta, stream)
  local h = redis.call('HGET', meta, 'h')
  if h then return tonumber(h) end
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  if #last > 0 then return seqOf(last[1][1]) end
  return 0
end

local function timeOf(entry)
  local f = entry[2]
  for i = 1, #f, 2 do
    if f[i] == 't' then return tonumber(f[i + 1]) or 0 end
  end
  return 0
end

-- nowMs is the server's time in milliseconds.
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- trim applies retention. Times never decrease with seq, so the expired
-- entries are a prefix of the stream. Meta field o holds the time of the
-- oldest entry or an earlier one (count trimming only makes it earlier
-- than the truth), so that most calls skip the scan.
local function trim(meta, stream, count, age, now)
  if count <= 0 then
    redis.call('DEL', stream)
    return
  end
  redis.call('XTRIM', stream, 'MAXLEN', count)
  if age <= 0 then return end
  local cutoff = now - age
  local o = tonumber(redis.call('HGET', meta, 'o') or '0') or 0
  if o >= cutoff then return end
  while true do
    local es = redis.call('XRANGE', stream, '-', '+', 'COUNT', 100)
    if #es == 0 then return end
    for _, e in ipairs(es) do
      local t = timeOf(e)
      if t >= cutoff then
        redis.call('XTRIM', stream, 'MINID', e[1])
        redis.call('HSET', meta, 'o', fmt(t))
        return
      end
    end
    redis.call('XTRIM', stream, 'MINID', fmt(seqOf(es[#es][1])) .. '-1')
  end
end
`

// publishScript stores and fans out publications of one channel, in
// order: for each, a dedupe lookup; if new, the next seq, the time (server
// time, never before the channel's previous publication), the stream
// entry, the dedupe record and the pub/sub message. Retention is applied
// once after them. It returns, for each publication, {duplicate, seq,
// time}; if a stream append fails, the publications from there on are not
// stored, get {-1, 0, 0}, and the error text follows last.
//
//	KEYS[1] meta, KEYS[2] stream, KEYS[2+i] dedupe key of publication i
//	ARGV[1] retention count, ARGV[2] retention age (ms), ARGV[3] dedupe window (ms)
//	ARGV[4] "1" for SPUBLISH, else PUBLISH; ARGV[5] the pub/sub channel
//	ARGV[6] "1" to rewrite the dedupe record of a duplicate (so that WAIT
//	        covers it); ARGV[5+2i] "1" if publication i has an id; ARGV[6+2i] its body
var publishScript = newScript(luaLib + `
local meta, stream = KEYS[1], KEYS[2]
local count, age = tonumber(ARGV[1]), tonumber(ARGV[2])
local window, spub, pch, touch = ARGV[3], ARGV[4] == '1', ARGV[5], ARGV[6] == '1'
local n = (#ARGV - 6) / 2

local head = headOf(meta, stream)
local now = nowMs()
local last = tonumber(redis.call('HGET', meta, 't') or '0') or 0
if now < last then now = last end
local snow = fmt(now)

local out, stored, failed = {}, 0, nil
for i = 1, n do
  local hasid, body, dkey = ARGV[5 + 2 * i] == '1', ARGV[6 + 2 * i], KEYS[2 + i]
  local dup = nil
  if failed then
    dup = {-1, 0, 0}
  elseif hasid then
    local d = redis.call('GET', dkey)
    if d then
      local s, t = string.match(d, '^(%d+):(%d+)$')
      if s then
        dup = {1, tonumber(s), tonumber(t)}
        if touch then
          local pt = redis.call('PTTL', dkey)
          if pt > 0 then redis.call('PEXPIRE', dkey, pt) end
        end
      end
    end
  end
  if not dup then
    local seq = head + 1
    local sseq = fmt(seq)
    if count > 0 then
      local r = redis.pcall('XADD', stream, 'MAXLEN', count, sseq .. '-0', 't', snow, 'b', body)
      if type(r) == 'table' and r.err then
        failed = r.err
        dup = {-1, 0, 0}
      end
    end
    if not dup then
      head = seq
      stored = stored + 1
      if hasid then redis.call('SET', dkey, sseq .. ':' .. snow, 'PX', window) end
      local msg = sseq .. ':' .. snow .. ':' .. body
      if spub then redis.call('SPUBLISH', pch, msg) else redis.call('PUBLISH', pch, msg) end
      dup = {0, seq, now}
    end
  end
  out[#out + 1] = dup[1]
  out[#out + 1] = dup[2]
  out[#out + 1] = dup[3]
end
if stored > 0 then
  redis.call('HSET', meta, 'h', fmt(head), 't', snow)
  trim(meta, stream, count, age, now)
  if count > 0 and age > 0 then redis.call('PEXPIRE', stream, age) end
end
if failed then out[#out + 1] = failed end
return out
`)

// historyScript applies retention, then reads the channel's position and
// a range of its log, as herald.HistoryRequest says. It returns {head,
// oldest, entries}; with before set, the entries are newest first.
//
//	KEYS[1] meta, KEYS[2] stream
//	ARGV[1] retention count, ARGV[2] retention age (ms)
//	ARGV[3] after, ARGV[4] before, ARGV[5] limit
var historyScript = newScript(luaLib + `
local meta, stream = KEYS[1], KEYS[2]
local count, age = tonumber(ARGV[1]), tonumber(ARGV[2])
local after, before, limit = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])

local head = headOf(meta, stream)
trim(meta, stream, count, age, nowMs())
local oldest = head + 1
local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
if #first > 0 then oldest = seqOf(first[1][1]) end
if after >= head and before == 0 then return {head, oldest, {}} end
local s, e = math.max(after + 1, oldest), head
if before > 0 then s, e = oldest, math.min(before - 1, head) end
if limit <= 0 or s > e or e == 0 then return {head, oldest, {}} end
if before > 0 then
  return {head, oldest, redis.call('XREVRANGE', stream, fmt(e) .. '-0', fmt(s) .. '-0', 'COUNT', limit)}
end
return {head, oldest, redis.call('XRANGE', stream, fmt(s) .. '-0', fmt(e) .. '-0', 'COUNT', limit)}
`)

// mapPutScript stores a record (mapentry: an 8-byte big-endian version,
// then the value) in a map hash unless the field holds one with a version
// as high or higher. The versions are compared byte by byte: Lua's
// numbers are doubles, which do not hold every uint64, and its string
// comparison follows the server's locale. It returns {1, record} when it
// stored, else {0, the record the field holds}. A field too short to hold
// a version is overwritten.
//
//	KEYS[1] the map hash
//	ARGV[1] field, ARGV[2] record, ARGV[3] "1" to write a refused field's
//	record again (so that WAIT covers it)
var mapPutScript = newScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and #cur >= 8 then
  local new, newer = ARGV[2], false
  for i = 1, 8 do
    local a, b = string.byte(new, i), string.byte(cur, i)
    if a ~= b then
      newer = a > b
      break
    end
  end
  if not newer then
    if ARGV[3] == '1' then redis.call('HSET', KEYS[1], ARGV[1], cur) end
    return {0, cur}
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {1, ARGV[2]}
`)

// removeStaleScript deletes presence fields whose value is still the
// stale one that was read, so that an entry written again in between (by
// a node whose lease came back) stays.
//
//	KEYS[1] presence hash; ARGV field, value, field, value, …
var removeStaleScript = newScript(`
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    n = n + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return n
`)

// Every command this package builds is pinned: rueidis otherwise recycles
// a command's memory once its reply has come, and when a connection dies
// right after writing one the race detector sees the recycling race with
// the dead connection's writer (the write is long over, but nothing in Go
// orders the two). An allocation per command is cheap next to a round trip.

// call is one script execution.
type call struct {
	script *script
	keys   []string
	args   []string
}

func (b *Broker) evalsha(c call) rueidis.Completed {
	return b.client.B().Evalsha().Sha1(c.script.sha).Numkeys(int64(len(c.keys))).Key(c.keys...).Arg(c.args...).Build().Pin()
}

func (b *Broker) eval(c call) rueidis.Completed {
	return b.client.B().Eval().Script(c.script.src).Numkeys(int64(len(c.keys))).Key(c.keys...).Arg(c.args...).Build().Pin()
}

func isNoScript(err error) bool {
	re, ok := rueidis.IsRedisErr(err)
	return ok && re.IsNoScript()
}

// run executes calls in one pipeline, each with EVALSHA first and EVAL if
// the server lost the script. A call that falls back to EVAL runs after
// the others, so calls whose order matters (publishes to one channel)
// must be one call.
func (b *Broker) run(ctx context.Context, calls ...call) []rueidis.RedisResult {
	cmds := make(rueidis.Commands, len(calls))
	for i, c := range calls {
		cmds[i] = b.evalsha(c)
	}
	res := b.client.DoMulti(ctx, cmds...)
	var again []int
	for i, r := range res {
		if isNoScript(r.Error()) {
			again = append(again, i)
		}
	}
	if len(again) == 0 {
		return res
	}
	cmds = cmds[:0]
	for _, i := range again {
		cmds = append(cmds, b.eval(calls[i]))
	}
	for j, r := range b.client.DoMulti(ctx, cmds...) {
		res[again[j]] = r
	}
	return res
}

// runWait executes one call followed by WAIT on the same connection, so
// that the wait covers what the script wrote. It returns the script's
// result and the number of replicas that acknowledged.
func (b *Broker) runWait(ctx context.Context, c call) (rueidis.RedisResult, int64, error) {
	wait := b.client.B().Wait().Numreplicas(int64(b.cfg.WaitReplicas)).Timeout(b.cfg.WaitTimeout.Milliseconds()).Build().Pin()
	res := b.client.DoMulti(ctx, b.evalsha(c), wait)
	if isNoScript(res[0].Error()) {
		wait = b.client.B().Wait().Numreplicas(int64(b.cfg.WaitReplicas)).Timeout(b.cfg.WaitTimeout.Milliseconds()).Build().Pin()
		res = b.client.DoMulti(ctx, b.eval(c), wait)
	}
	if err := res[0].Error(); err != nil {
		return res[0], 0, err
	}
	n, err := res[1].AsInt64()
	return res[0], n, err
}

func formatUint(n uint64) string { return strconv.FormatUint(n, 10) }
