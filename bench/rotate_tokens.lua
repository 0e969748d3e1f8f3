-- wrk script: POST exchanges, rotating through many users' access tokens (one per line in TOKENS_FILE),
-- so the benchmark measures many callers rather than one cached user.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  tokens[#tokens + 1] = line
end

local counter = 0
function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end

local i = 0
function request()
  i = i + 1
  local token = tokens[((i + (offset or 0)) % #tokens) + 1]
  return wrk.format("POST", nil, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, "{}")
end
