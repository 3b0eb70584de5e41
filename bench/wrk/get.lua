-- GET api/tasks/{random task}/.
local low, count = tonumber(os.getenv("BENCH_LOW")), tonumber(os.getenv("BENCH_COUNT"))
local headers = { ["Authorization"] = "Token " .. os.getenv("BENCH_KEY") }

function setup(thread) thread:set("seed", math.random(1, 1000000)) end
function init(args) math.randomseed(seed + os.time()) end

function request()
  return wrk.format("GET", "/api/tasks/" .. (low + math.random(0, count - 1)) .. "/", headers)
end
