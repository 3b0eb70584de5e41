-- GET a random 100-task page of the project's task list, with annotations and predictions.
local project, pages = os.getenv("BENCH_PROJECT"), tonumber(os.getenv("BENCH_PAGES"))
local headers = { ["Authorization"] = "Token " .. os.getenv("BENCH_KEY") }

function setup(thread) thread:set("seed", math.random(1, 1000000)) end
function init(args) math.randomseed(seed + os.time()) end

function request()
  local page = math.random(1, pages)
  return wrk.format(
    "GET", "/api/tasks/?project=" .. project .. "&page=" .. page .. "&page_size=100&fields=all",
    headers
  )
end
