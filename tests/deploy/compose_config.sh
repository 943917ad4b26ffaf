#!/usr/bin/env bash
# docker-compose accepts docker-compose.yml, and it says what vnet needs:
# the controller and two agents, the agents with the capabilities AF_XDP
# needs and an unlimited memlock.
set -euo pipefail
cd "$1"
if ! command -v docker-compose >/dev/null; then
  echo "SKIP: docker-compose is not installed (scripts/setup installs it)"
  [ "${VNET_REQUIRE_PRIVILEGED:-}" = 1 ] && exit 1
  exit 77
fi
config=$(docker-compose -f docker-compose.yml config)
for service in controller agent1 agent2; do
  grep -q "^  $service:" <<<"$config" || { echo "no service $service"; exit 1; }
done
for cap in NET_ADMIN NET_RAW BPF IPC_LOCK; do
  [ "$(grep -c -- "- $cap" <<<"$config")" -ge 2 ] || { echo "the agents lack $cap"; exit 1; }
done
grep -q "memlock: -1" <<<"$config" || { echo "no unlimited memlock"; exit 1; }
# Off loopback the API is HTTPS only: the enroller speaks it, with the CA.
grep -q "VNET_API: https://controller:8080" <<<"$config" || { echo "the enroller does not use https"; exit 1; }
grep -q -- "--cacert" deploy/enroll-hosts || { echo "enroll-hosts does not trust the controller's CA"; exit 1; }
grep -q "controller,localhost,127.0.0.1" <<<"$config" || { echo "the API certificate does not name controller"; exit 1; }
# Agents get only what enrollment needs: never the controller's data (its CA
# key and admin token); only the enroller and the controller mount it.
agents=$(
         /usr/bin/python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin)))' <<<"$config")
python3 - "$agents" <<'PY' || exit 1
import json, sys
services = json.loads(sys.argv[1])["services"]
for name in ("agent1", "agent2"):
    for v in services[name].get("volumes", []):
        source = v["source"] if isinstance(v, dict) else v.split(":")[0]
        if source == "controller-data":
            sys.exit(f"{name} mounts the controller's data volume (CA key, admin token)")
mounting = sorted(n for n, s in services.items()
                  if any((v["source"] if isinstance(v, dict) else v.split(":")[0]) == "controller-data"
                         for v in s.get("volumes", [])))
if mounting != ["controller", "enroll"]:
    sys.exit(f"the controller's data volume is mounted by {mounting}")
PY

# The replicas' file: PostgreSQL, two controllers sharing it and the store
# key, agents that know both and mount neither's data nor the key.
replicas=$(VNET_PG_PASSWORD=check docker-compose -f docker-compose.replicas.yml config)
python3 - "$(/usr/bin/python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin)))' <<<"$replicas")" <<'PY' || exit 1
import json, sys
services = json.loads(sys.argv[1])["services"]
for name in ("postgres", "controller1", "controller2", "enroll", "agent1", "agent2"):
    if name not in services:
        sys.exit(f"docker-compose.replicas.yml: no service {name}")
def sources(s):
    return {(v["source"] if isinstance(v, dict) else v.split(":")[0]) for v in s.get("volumes", [])}
for c in ("controller1", "controller2"):
    command = services[c]["command"]
    store = command[command.index("--store") + 1]
    if not store.startswith("postgresql://vnet:check@postgres:5432/vnet"):
        sys.exit(f"{c} is not on the PostgreSQL service: {store}")
    if "store-key" not in sources(services[c]):
        sys.exit(f"{c} does not mount the shared store key")
for a in ("agent1", "agent2"):
    if services[a]["environment"]["VNET_CONTROLLER"] != "controller1:6641,controller2:6641":
        sys.exit(f"{a} does not know both replicas")
    if sources(services[a]) & {"store-key", "controller1-data", "controller2-data"}:
        sys.exit(f"{a} mounts a controller's secrets")
PY
echo "docker-compose config: ok"
