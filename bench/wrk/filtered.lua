-- GET a random 100-task page of a filtered task list (BENCH_FILTER: query parameters),
-- with annotations and predictions; BENCH_PAGES: how many pages the filter matches.
local project, pages = os.getenv("BENCH_PROJECT"), tonumber(os.getenv("BENCH_PAGES"))
local filter = os.getenv("BENCH_FILTER")
local headers = { ["Authorization"] = "Token " .. os.getenv("BENCH_KEY") }

function setup(thread) thread:set("seed", math.random(1, 1000000)) end
function init(args) math.randomseed(seed + os.time()) end

function request()
  local page = math.random(1, pages)
  return wrk.format(
    "GET",
    "/api/tasks/?project=" .. project .. "&page=" .. page .. "&page_size=100&fields=all&" .. filter,
    headers
  )
end
