#!/usr/bin/env bash
# REST API throughput with wrk: GET of one VM network, GET of the console's
# page and POST of VM NICs,
# 16 connections for BENCH_SECONDS (default 10) each, against a controller on
# loopback with a fresh data directory. The baseline, measured in the same
# run with the same settings, is GET /healthz (no token, no database).
#
#   tests/bench/api_bench.sh build/main/controller/vnet-controller [seconds] [postgresql]
#
# With "postgresql", the same run measures the controller on SQLite and then
# on a throw-away PostgreSQL 15 server (tests/support/postgresql.py) on the
# same machine, each against its own baseline.
set -euo pipefail
controller=${1:?usage: api_bench.sh PATH/TO/vnet-controller [seconds] [postgresql]}
seconds=${2:-${BENCH_SECONDS:-10}}
stores=(sqlite)
[ "${3:-}" = postgresql ] && stores+=(postgresql)
command -v wrk >/dev/null || { echo "api_bench: wrk is not installed (scripts/setup installs it)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  wait 2>/dev/null
  [ -f "$work/pg.json" ] && /usr/bin/python3 "$here/../support/postgresql.py" stop "$work/pg.json" >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

for store in "${stores[@]}"; do
store_args=()
if [ "$store" = postgresql ]; then
  /usr/bin/python3 "$here/../support/postgresql.py" start "$work/pg.json" >/dev/null
  store_args=(--store "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$work/pg.json")")
fi
rm -rf "$work/data"

# One tenant posts every NIC of the run: no quota may stop it.
"$controller" --data-dir "$work/data" --listen 127.0.0.1:0 --southbound 127.0.0.1:0 \
  "${store_args[@]}" --default-quota vm-nics=100000000 --log-level warn 2>"$work/log" &
pid=$!
# --log-level warn: one log line per request would measure stderr, not vnet.
for _ in $(seq 200); do
  [ -f "$work/data/admin.token" ] && ss -ltnp 2>/dev/null | grep -q "pid=$pid," && break
  sleep 0.05
done
# Two listeners (REST and southbound): the REST one answers /healthz.
port=""
for p in $(ss -ltnp | grep "pid=$pid," | sed -E 's/.*127\.0\.0\.1:([0-9]+).*/\1/'); do
  curl -sf "http://127.0.0.1:$p/healthz" >/dev/null 2>&1 && { port=$p; break; }
done
[ -n "$port" ] || { echo "api_bench: the controller did not start: $(cat "$work/log")" >&2; exit 1; }
token=$(cat "$work/data/admin.token")
url="http://127.0.0.1:$port"
api() { curl -sf -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "$2" "$url/api/v1/$1"; }
id() { sed -E 's/.*"id":"([^"]+)".*/\1/'; }

tenant=$(api tenants '{"name":"contoso"}' | id)
ln=$(api logical-networks '{"name":"dc"}' | id)
net=$(api vm-networks "{\"name\":\"AAA\",\"tenant_id\":\"$tenant\",\"logical_network_id\":\"$ln\"}" | id)
subnet=$(api vm-subnets "{\"vm_network_id\":\"$net\",\"name\":\"s\",\"prefix\":\"10.0.0.0/8\"}" | id)
api ip-pools "{\"vm_subnet_id\":\"$subnet\",\"ranges\":[{\"start\":\"10.0.0.10\",\"end\":\"10.255.255.250\"}]}" >/dev/null

cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"vm_subnet_id":"$subnet","vm_name":"bench"}'
LUA
cat >"$work/get.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
LUA
cat >>"$work/post.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("non2xx=%d\n", summary.errors.status))
end
LUA

# run NAME URL [LUA]: prints "NAME req/s p99_ms"
run() {
  local out
  out=$(wrk -t2 -c16 -d"${seconds}s" --latency ${3:+-s "$3"} "$2")
  local rps p99 bad
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk -F= '/^non2xx=/ {print $2}' <<<"$out")
  case "$p99" in
    *us) p99=$(awk -v v="${p99%us}" 'BEGIN {printf "%.2f", v / 1000}') ;;
    *ms) p99=${p99%ms} ;;
    *s) p99=$(awk -v v="${p99%s}" 'BEGIN {printf "%.2f", v * 1000}') ;;
  esac
  echo "$1 $rps $p99 ${bad:-0}"
}

base=$(run "GET /healthz (baseline)" "$url/healthz")
get=$(run "GET /api/v1/vm-networks/{id}" "$url/api/v1/vm-networks/$net" "$work/get.lua")
# The console's page, read from --web-dir on every request (no cache).
console=$(run "GET / (the console's page)" "$url/")
post=$(run "POST /api/v1/vm-nics" "$url/api/v1/vm-nics" "$work/post.lua")
nics=$(curl -s "$url/metrics" | awk '/^vnet_objects\{kind="vm-nics"\}/ {print $2}')

base_rps=$(awk '{print $(NF-2)}' <<<"$base")
printf '\n%s\n%-32s %12s %10s %12s\n' "store: $store" "request (16 connections, ${seconds} s)" "req/s" "p99 ms" "x baseline"
for line in "$base" "$get" "$console" "$post"; do
  name=$(awk '{NF-=3; print}' <<<"$line")
  rps=$(awk '{print $(NF-2)}' <<<"$line")
  p99=$(awk '{print $(NF-1)}' <<<"$line")
  printf '%-32s %12s %10s %12.2f\n' "$name" "$rps" "$p99" "$(awk -v a="$rps" -v b="$base_rps" 'BEGIN {print a / b}')"
done
echo "VM NICs in the database after the POST run: $nics (non-2xx answers: $(awk '{print $NF}' <<<"$post"))"
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null || true
pid=""
done
