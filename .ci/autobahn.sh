#!/usr/bin/env bash
# Autobahn|Testsuite cases 1-10 against the blocking transport, server and client modes.
# Fails unless both report 0 FAILED, 0 NON-STRICT and 0 UNCLEAN (INFORMATIONAL is fine).
set -euo pipefail
cd "$(dirname "$0")/.."
AB=../shared/autobahn
OUT=${AUTOBAHN_OUT:-target/autobahn}
mkdir -p "$OUT"

cargo build --release -p wsduplex-std --bin blocking-server --example autobahn-client

check() { # summary log -> fails on NON-STRICT (the scripts already fail on FAILED/UNCLEAN)
    grep -A3 '=== Autobahn' "$1"
    if grep -qE 'NON-STRICT=[1-9]' "$1"; then
        echo "autobahn: NON-STRICT cases in $1" >&2
        return 1
    fi
}

PORT_SERVER=${AUTOBAHN_SERVER_PORT:-19401}
./target/release/blocking-server --listen "127.0.0.1:$PORT_SERVER" 2>"$OUT/blocking-server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT_SERVER") 2>/dev/null && break
    sleep 0.1
done
AGENT=wsduplex-std bash "$AB/test-server.sh" "ws://127.0.0.1:$PORT_SERVER/echo" "$OUT/server" > "$OUT/server.log" 2>&1 \
    || { tail -40 "$OUT/server.log"; exit 1; }
check "$OUT/server.log"
kill $SERVER 2>/dev/null || true

AGENT=wsduplex-std bash "$AB/test-client.sh" "${AUTOBAHN_CLIENT_PORT:-19402}" 'target/release/examples/autobahn-client' "$OUT/client" \
    > "$OUT/client.log" 2>&1 || { tail -40 "$OUT/client.log"; exit 1; }
check "$OUT/client.log"
