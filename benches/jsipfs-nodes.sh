#!/usr/bin/env bash
# Starts N js-ipfs 0.66.1 daemons on 127.0.0.1 for the transport benchmarks, prints one
# store spec per node (`kubo:http://127.0.0.1:PORT`) to STATE_DIR/stores, and keeps them
# running until this script is stopped (Ctrl-C, TERM), which stops them all and removes
# their repositories.
#
#   benches/jsipfs-nodes.sh 3 target/bench-nodes &
#   # ... wait for target/bench-nodes/ready, then use the specs in target/bench-nodes/stores
#
# js-ipfs is installed once from crates/btfs/tests/jsipfs/package-lock.json (the same pins
# the test harness uses) into target/bench-jsipfs with `npm ci`.
set -euo pipefail

n=${1:?usage: jsipfs-nodes.sh N STATE_DIR}
state=${2:?usage: jsipfs-nodes.sh N STATE_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
install="$root/target/bench-jsipfs"
jsipfs="$install/node_modules/.bin/jsipfs"

if [ ! -x "$jsipfs" ]; then
  mkdir -p "$install"
  cp "$root/crates/btfs/tests/jsipfs/package.json" "$root/crates/btfs/tests/jsipfs/package-lock.json" "$install/"
  (cd "$install" && npm ci --no-audit --no-fund --loglevel=error)
fi

rm -rf "$state"
mkdir -p "$state"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$state"/repo-*
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

for i in $(seq 1 "$n"); do
  repo="$state/repo-$i"
  swarm=$(free_port); api=$(free_port); gw=$(free_port); rpc=$(free_port)
  mkdir -p "$repo"
  cat > "$repo.json" <<EOF
{"Addresses": {"Swarm": ["/ip4/127.0.0.1/tcp/$swarm"], "API": "/ip4/127.0.0.1/tcp/$api",
  "Gateway": "/ip4/127.0.0.1/tcp/$gw", "RPC": "/ip4/127.0.0.1/tcp/$rpc",
  "Announce": [], "NoAnnounce": [], "Delegates": []},
 "Bootstrap": [],
 "Discovery": {"MDNS": {"Enabled": false, "Interval": 10}, "webRTCStar": {"Enabled": false}}}
EOF
  IPFS_PATH="$repo" "$jsipfs" init --emptyRepo --defaultConfig "$repo.json" > "$repo.init.log" 2>&1
  IPFS_PATH="$repo" "$jsipfs" daemon --offline --enable-preload=false > "$repo.log" 2>&1 &
  pids+=($!)
  echo "kubo:http://127.0.0.1:$api" >> "$state/stores"
done

for spec in $(cat "$state/stores"); do
  url=${spec#kubo:}
  for _ in $(seq 1 240); do
    if curl -sf -X POST "$url/api/v0/id" > /dev/null; then break; fi
    sleep 0.5
  done
  curl -sf -X POST "$url/api/v0/id" > /dev/null || { echo "node at $url did not start" >&2; exit 1; }
done
touch "$state/ready"
echo "ready: $(tr '\n' ' ' < "$state/stores")" >&2
wait
