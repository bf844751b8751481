#!/usr/bin/env bash
# Autobahn|Testsuite cases 1-10 against every transport (std, smol, tokio), server and client modes.
# Fails unless every run reports 0 FAILED, 0 NON-STRICT and 0 UNCLEAN (INFORMATIONAL is fine).
set -euo pipefail
cd "$(dirname "$0")/.."
AB=../shared/autobahn
OUT=${AUTOBAHN_OUT:-target/autobahn}
mkdir -p "$OUT"

cargo build --release -p wsduplex-demo --bins --examples

check() { # summary log -> fails on NON-STRICT (the scripts already fail on FAILED/UNCLEAN)
    grep -A3 '=== Autobahn' "$1"
    if grep -qE 'NON-STRICT=[1-9]' "$1"; then
        echo "autobahn: NON-STRICT cases in $1" >&2
        return 1
    fi
}

SERVER=
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null || true' EXIT

# transport, server binary, client example, two ports
run_pair() {
    local name=$1 server=$2 client=$3 port_server=$4 port_client=$5
    "./target/release/$server" --listen "127.0.0.1:$port_server" 2>"$OUT/$name-server-process.log" &
    SERVER=$!
    for _ in $(seq 1 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port_server") 2>/dev/null && break
        sleep 0.1
    done
    AGENT=$name bash "$AB/test-server.sh" "ws://127.0.0.1:$port_server/echo" "$OUT/$name-server" > "$OUT/$name-server.log" 2>&1 \
        || { tail -40 "$OUT/$name-server.log"; exit 1; }
    check "$OUT/$name-server.log"
    kill $SERVER 2>/dev/null || true
    SERVER=
    AGENT=$name bash "$AB/test-client.sh" "$port_client" "target/release/examples/$client" "$OUT/$name-client" \
        > "$OUT/$name-client.log" 2>&1 || { tail -40 "$OUT/$name-client.log"; exit 1; }
    check "$OUT/$name-client.log"
}

run_pair wsduplex-std blocking-server autobahn-blocking-client 19401 19402
run_pair wsduplex-smol async-server autobahn-async-client 19403 19404
run_pair wsduplex-tokio tokio-server autobahn-tokio-client 19405 19406
