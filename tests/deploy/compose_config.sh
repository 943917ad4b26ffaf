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
echo "docker-compose config: ok"
