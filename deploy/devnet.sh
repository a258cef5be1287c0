#!/usr/bin/env bash
# Start an N-node Chorus network on this machine's loopback, from one command:
#   deploy/devnet.sh [N] [DIR]        (defaults: 3 nodes, data in ./.chorus-dev)
# Node i serves its API on 127.0.0.1:$((API_BASE+i)) and listens for peers on
# 127.0.0.1:$((P2P_BASE+i)) (API_BASE=7500, P2P_BASE=7600 unless set in the environment);
# nodes 1..N-1 bootstrap to node 0 and trust it (its findings count in their views, so the
# "try:" lines below show a verdict). Ctrl-C (or SIGTERM) stops them all. Build first.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3}
DIR=${2:-.chorus-dev}
API_BASE=${API_BASE:-7500}
P2P_BASE=${P2P_BASE:-7600}
NODE=node_modules/.bin/node
[ -x "$NODE" ] || NODE=node
CLI=dist/node/cli/main.js
[ -f "$CLI" ] || { echo "build first: npm run build" >&2; exit 1; }
mkdir -p "$DIR"
pids=()
stopping=0
cleanup() { # once: each node finishes its writes and closes its store on SIGTERM
  [ "$stopping" = 1 ] && return; stopping=1
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait
}
trap cleanup EXIT
trap 'cleanup; exit 0' INT TERM

# HTTP GET with the Node that runs the nodes (no curl needed): prints the body, fails on non-2xx.
get() { "$NODE" -e "fetch(process.argv[1]).then(async r => { if (!r.ok) process.exit(1); process.stdout.write(await r.text()) }, () => process.exit(1))" "$1"; }

start_node() { # i bootstrap...
  local i=$1; shift
  local home="$DIR/node$i"
  mkdir -p "$home"
  CHORUS_HOME="$home" CHORUS_NET_MDNS=false "$NODE" "$CLI" start --port $((API_BASE + i)) \
    --listen "/ip4/127.0.0.1/tcp/$((P2P_BASE + i))" ${1:+--bootstrap "$1"} --no-upnp --log-level warn \
    >>"$home/node.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    get "http://127.0.0.1:$((API_BASE + i))/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "node $i did not start; see $home/node.log" >&2; exit 1
}

start_node 0
STATUS0=$(get "http://127.0.0.1:$API_BASE/v1/status")
PEER0=$(printf '%s' "$STATUS0" | sed -E 's/.*"peerId":"([^"]+)".*/\1/')
DID0=$(printf '%s' "$STATUS0" | sed -E 's/.*"did":"([^"]+)".*/\1/')
BOOT="/ip4/127.0.0.1/tcp/$P2P_BASE/p2p/$PEER0"
for i in $(seq 1 $((N - 1))); do
  # Each node's own view: it trusts node 0 (a root of its trust list), before it starts.
  [ -f "$DIR/node$i/identity.key" ] || CHORUS_HOME="$DIR/node$i" "$NODE" "$CLI" init >/dev/null
  CHORUS_HOME="$DIR/node$i" "$NODE" "$CLI" trust add "$DID0" --note node0 >/dev/null
  start_node "$i" "$BOOT"
done

echo "devnet: $N nodes; APIs on http://127.0.0.1:$API_BASE..$((API_BASE + N - 1)); data in $DIR"
echo "nodes 1..$((N - 1)) trust node 0 ($DID0)"
echo "try:    CHORUS_HOME=$DIR/node0 npx chorus attest audit --subject sha256:$(printf 'ab%.0s' $(seq 32)) --harness demo@1 --verdict fail"
echo "        CHORUS_HOME=$DIR/node$((N - 1)) npx chorus query sha256:$(printf 'ab%.0s' $(seq 32))    # flagged: node 0's finding counts there"
echo "Ctrl-C stops the network."
wait
