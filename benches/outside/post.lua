-- wrk: POST the body in $BODY to /v1/messages as Claude Code would (JSON, API key, version).
local file = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-key"] = "sk-ant-bench"
wrk.headers["anthropic-version"] = "2023-06-01"
