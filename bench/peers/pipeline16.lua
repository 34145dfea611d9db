-- wrk script of bench/net_run.sh: HTTP pipelining, 16 requests in each write. wrk counts
-- the requests in the string request() returns (it parses them once at start), so its
-- "requests in" and Requests/sec count responses, not writes.
local depth = 16

init = function(args)
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, "/")
  end
  req = table.concat(r)
end

request = function()
  return req
end
