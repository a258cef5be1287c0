#!/bin/sh
# One node of the compose devnet (docker-compose.yml). With SEED set, the node waits for the
# seed node's API, trusts the seed's key (so the seed's findings count in its view and the
# demo shows a verdict), and bootstraps to it; without, it starts as the seed.
set -eu
LISTEN=/ip4/0.0.0.0/tcp/7421
if [ -z "${SEED:-}" ]; then exec chorus start --listen "$LISTEN"; fi
until status=$(node -e "fetch('http://$SEED:7420/v1/status').then(async r => { if (!r.ok) process.exit(1); console.log(await r.text()) }, () => process.exit(1))") && [ -n "$status" ]; do
  sleep 1
done
peer=$(printf '%s' "$status" | sed -E 's/.*"peerId":"([^"]+)".*/\1/')
did=$(printf '%s' "$status" | sed -E 's/.*"did":"([^"]+)".*/\1/')
[ -f "$CHORUS_HOME/identity.key" ] || chorus init >/dev/null
chorus trust add "$did" --note "$SEED" >/dev/null
exec chorus start --listen "$LISTEN" --bootstrap "/dns4/$SEED/tcp/7421/p2p/$peer"
