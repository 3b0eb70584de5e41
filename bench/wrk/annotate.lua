-- POST api/tasks/{random task}/annotations/ with a one-choice result.
local low, count = tonumber(os.getenv("BENCH_LOW")), tonumber(os.getenv("BENCH_COUNT"))
local headers = {
  ["Authorization"] = "Token " .. os.getenv("BENCH_KEY"),
  ["Content-Type"] = "application/json",
}
local body = '{"result": [{"from_name": "sentiment", "to_name": "text", "type": "choices", '
  .. '"value": {"choices": ["Positive"]}}]}'

function setup(thread) thread:set("seed", math.random(1, 1000000)) end
function init(args) math.randomseed(seed + os.time()) end

function request()
  local task = low + math.random(0, count - 1)
  return wrk.format("POST", "/api/tasks/" .. task .. "/annotations/", headers, body)
end
