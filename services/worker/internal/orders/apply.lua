-- apply.lua: apply one provider event to one order, atomically (contract section 6).
--
-- Every key shares the order's hash tag, so the script runs unchanged on Redis Cluster.
-- KEYS[1]    hl:{<tenant>:<provider>:<order>}:o      order state (order-level units) or the
--                                                    order summary (item units)
-- KEYS[2]    hl:{...}:e:<source event id>            event record: one field per unit, TTL
-- KEYS[3]    hl:{...}:items                          item ids (item units only)
-- KEYS[3+i]  hl:{...}:i:<item id>                    state of item unit i (item units only)
-- KEYS[#KEYS] hl:{...}:h                             history: a list, one entry per unit per call
-- (ids in key names have %, {, } and : percent-escaped; see keyPart.) The event record also holds
-- field p: the stream sequence whose canonical events were published (written by mark).
--
-- ARGV[1] source stream sequence   ARGV[2] applied-at, Unix nanoseconds
-- ARGV[3] record TTL, milliseconds ARGV[4] '1' for item units, '0' for the order itself
-- ARGV[5] source event id          ARGV[6] received-at, Unix nanoseconds
-- then 7 per unit: item id, status, canonical (number), rank (-1 when unknown),
--   terminal ('1'/'0'), occurred-at Unix ms, chain ("rank:canonical,..." in lifecycle order)
--
-- State hash fields: s status, c canonical, r rank, t terminal, u '1' when s is unknown,
--   v version, o occurred-at ms, a applied-at ns, e source event id; summary adds i (item id).
-- Record (one per unit), fields joined by \31 (unit separator): kind, version, previous canonical,
--   canonical, skipped canonicals (comma list), applied-at ns, stream sequence, byte length of the
--   previous status; then the previous status and the status themselves, back to back (the
--   length splits them, so provider strings may hold any byte).
--
-- History entry (one per unit and call, oldest first, the last HISTORY kept, TTL as the record),
--   fields joined by \31: kind (a applied, s stale, r rejected, d duplicate: the event id was
--   already recorded for the unit), version after it, canonical, stream sequence, occurred-at ms,
--   received-at ns, applied-at ns, byte length of the source event id, byte length of the item id;
--   then the source event id, the item id and the status back to back.
--
-- Returns { published marker or '', then per unit '0'..record (new) or '1'..record (recorded) }.

local N, HISTORY = 7, 1000
local seq, applied, ttl, items, source = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1', ARGV[5]
local units = (#ARGV - 6) / N
local hist = {}
local head = '\31' .. seq          -- the part of every history entry after kind, version, canonical
local tail = '\31' .. ARGV[6] .. '\31' .. applied .. '\31' .. #source .. '\31'
-- One read of the event record: the published marker and every unit's field.
local fields = { 'p' }
for i = 1, units do fields[i + 1] = 'u:' .. ARGV[6 + (i - 1) * N + 1] end
local recorded = redis.call('HMGET', KEYS[2], unpack(fields))
local out = { recorded[1] or '' }
local wrote = false

for i = 1, units do
  local b = 6 + (i - 1) * N
  local item, st, canon = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local rank, term, occ, chain = tonumber(ARGV[b + 4]), ARGV[b + 5], tonumber(ARGV[b + 6]), ARGV[b + 7]
  local field = fields[i + 1]
  local rec = recorded[i + 1]
  local key = KEYS[1]
  if items then key = KEYS[3 + i] end
  local hk, hv
  if rec then
    out[#out + 1] = '1' .. rec
    hk, hv = 'd', redis.call('HGET', key, 'v') or '0'
  else
    local cur = redis.call('HMGET', key, 's', 'c', 'r', 't', 'u', 'v', 'o')
    local kind, ver, ps, pc, floor, newRank = 'applied', 1, '', '0', 0, rank
    if cur[1] then
      local curRank, curVer, curOcc = tonumber(cur[3]), tonumber(cur[6]), tonumber(cur[7])
      ps, pc, ver, floor = cur[1], cur[2], curVer, curRank
      if newRank < 0 then newRank = curRank end
      if st == cur[1] then
        kind = 'stale'        -- same status: nothing changes
      elseif occ < curOcc then
        kind = 'stale'        -- older than the current state
      elseif cur[4] == '1' then
        kind = 'rejected'     -- nothing leaves a terminal status
      elseif rank >= 0 and (rank < curRank or (rank == curRank and cur[5] ~= '1')) then
        kind = 'stale'        -- backwards (an unknown status may be left at its own rank)
      else
        ver = curVer + 1
      end
    elseif newRank < 0 then
      newRank = 0
    end
    local skipped = ''
    if kind == 'applied' then
      local sk = {}
      for r, c in string.gmatch(chain, '(%d+):(%d+)') do
        if tonumber(r) > floor then sk[#sk + 1] = c end
      end
      skipped = table.concat(sk, ',')
      local unknown = '0'
      if rank < 0 then unknown = '1' end
      redis.call('HSET', key, 's', st, 'c', canon, 'r', newRank, 't', term, 'u', unknown,
        'v', ver, 'o', ARGV[b + 6], 'a', applied, 'e', source)
      if items then
        redis.call('SADD', KEYS[3], item)
        redis.call('HSET', KEYS[1], 's', st, 'c', canon, 'v', ver, 'a', applied, 'i', item)
      end
    end
    rec = table.concat({ kind, tostring(ver), pc, canon, skipped, applied, seq, tostring(#ps) }, '\31')
      .. '\31' .. ps .. st
    redis.call('HSET', KEYS[2], field, rec)
    wrote = true
    out[#out + 1] = '0' .. rec
    hk, hv = string.sub(kind, 1, 1), tostring(ver)
  end
  hist[i] = hk .. '\31' .. hv .. '\31' .. canon .. head .. '\31' .. ARGV[b + 6] .. tail .. #item .. '\31'
    .. source .. item .. st
end

if wrote then redis.call('PEXPIRE', KEYS[2], ttl) end
local hkey = KEYS[#KEYS]
local len
if units == 1 then len = redis.call('RPUSH', hkey, hist[1]) else len = redis.call('RPUSH', hkey, unpack(hist)) end
if len > HISTORY then redis.call('LTRIM', hkey, -HISTORY, -1) end
redis.call('PEXPIRE', hkey, ttl)
return out
