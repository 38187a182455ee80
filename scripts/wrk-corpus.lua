-- Replays a corpus written by `hookline bench corpus -o PREFIX -split THREADS`: each wrk thread
-- reads PREFIX.<thread index> and sends its requests in order, each once. When a thread runs out
-- it stops (wrk then reports the requests it did send). Set CORPUS=PREFIX in the environment.
local threads, counter = {}, 0

function setup(thread)
  thread:set("part", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local prefix = os.getenv("CORPUS")
  local f = assert(io.open(prefix .. "." .. part, "rb"))
  local data = f:read("*a")
  f:close()
  reqs, pos, n = {}, 1, 0
  while pos <= #data do
    local nl = data:find("\n", pos, true)
    local len = tonumber(data:sub(pos, nl - 1))
    n = n + 1
    reqs[n] = data:sub(nl + 1, nl + len)
    pos = nl + len + 1
  end
  data = nil
  idx = 0
end

function request()
  idx = idx + 1
  if idx > n then
    wrk.thread:stop()
    return reqs[n]
  end
  return reqs[idx]
end
