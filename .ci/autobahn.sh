#!/usr/bin/env bash
# Autobahn|Testsuite against every transport (std, smol, tokio), server and client modes:
#  - cases 1-10, permessage-deflate off, except tokio's pair, which runs them with it on (the
#    testsuite offers nothing in those cases as a client and declines our offer as a server:
#    the extension configured but not negotiated);
#  - the permessage-deflate cases 12.* and 13.* with it on: every parameter set (12.1-12.5,
#    13.1-13.7), for message sizes 1-8 whole and 11-13 fragmented. The larger sizes (9, 10,
#    14-18) take Autobahn's pure-Python masking ~20 minutes per run, and exercise no code
#    the smaller ones do not; AUTOBAHN_DEFLATE_CASES="12.* 13.*" runs them all (~25 min per
#    run on an idle machine; give the scripts TIMEOUT=3600 when it is busy).
# The two lanes (our servers, our clients) run side by side: the testsuite is single-threaded.
# Fails unless every run reports 0 FAILED, 0 NON-STRICT and 0 UNCLEAN (INFORMATIONAL is fine).
set -euo pipefail
cd "$(dirname "$0")/.."
AB=../shared/autobahn
OUT=${AUTOBAHN_OUT:-target/autobahn}
mkdir -p "$OUT"
sizes="1 2 3 4 5 6 7 8 11 12 13"
DEFLATE_CASES=${AUTOBAHN_DEFLATE_CASES:-$(for g in 12.1 12.2 12.3 12.4 12.5 13.1 13.2 13.3 13.4 13.5 13.6 13.7; do
    for s in $sizes; do printf '%s.%s ' "$g" "$s"; done
done)}

cargo build --release -p wsduplex-demo --bins --examples
bash "$AB/setup.sh" > "$OUT/setup.log" 2>&1 || { cat "$OUT/setup.log"; exit 1; }

check() { # summary log -> fails on NON-STRICT (the scripts already fail on FAILED/UNCLEAN)
    grep -A3 '=== Autobahn' "$1"
    if grep -qE 'NON-STRICT=[1-9]' "$1"; then
        echo "autobahn: NON-STRICT cases in $1" >&2
        return 1
    fi
}

# name, server binary, port, cases, server flags...
server_run() {
    local name=$1 server=$2 port=$3 cases=$4
    shift 4
    "./target/release/$server" --listen "127.0.0.1:$port" "$@" 2>"$OUT/$name-server-process.log" &
    local pid=$!
    for _ in $(seq 1 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    local rc=0
    CASES=$cases AGENT=$name bash "$AB/test-server.sh" "ws://127.0.0.1:$port/echo" "$OUT/$name-server" \
        > "$OUT/$name-server.log" 2>&1 || rc=$?
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    [ "$rc" -eq 0 ] || { tail -40 "$OUT/$name-server.log"; return 1; }
    check "$OUT/$name-server.log"
}

# name, client example, port, cases, "1" (permessage-deflate on) or "" (off)
client_run() {
    local name=$1 client=$2 port=$3 cases=$4 deflate=$5
    local rc=0
    # The examples report under their transport's name (the summary picks that agent).
    CASES=$cases AGENT=${name%-deflate} AUTOBAHN_DEFLATE=$deflate bash "$AB/test-client.sh" "$port" \
        "target/release/examples/$client" "$OUT/$name-client" > "$OUT/$name-client.log" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || { tail -40 "$OUT/$name-client.log"; return 1; }
    check "$OUT/$name-client.log"
}
servers() {
    server_run wsduplex-std blocking-server 19401 ""
    server_run wsduplex-smol async-server 19403 ""
    server_run wsduplex-tokio tokio-server 19405 "" --deflate
    server_run wsduplex-std-deflate blocking-server 19407 "$DEFLATE_CASES" --deflate
    server_run wsduplex-smol-deflate async-server 19409 "$DEFLATE_CASES" --deflate
    server_run wsduplex-tokio-deflate tokio-server 19411 "$DEFLATE_CASES" --deflate
}

clients() {
    client_run wsduplex-std autobahn-blocking-client 19402 "" ""
    client_run wsduplex-smol autobahn-async-client 19404 "" ""
    client_run wsduplex-tokio autobahn-tokio-client 19406 "" 1
    client_run wsduplex-std-deflate autobahn-blocking-client 19408 "$DEFLATE_CASES" 1
    client_run wsduplex-smol-deflate autobahn-async-client 19410 "$DEFLATE_CASES" 1
    client_run wsduplex-tokio-deflate autobahn-tokio-client 19412 "$DEFLATE_CASES" 1
}

servers > "$OUT/servers.log" 2>&1 &
lane=$!
clients_rc=0
clients > "$OUT/clients.log" 2>&1 || clients_rc=$?
servers_rc=0
wait "$lane" || servers_rc=$?
cat "$OUT/servers.log" "$OUT/clients.log"
[ "$servers_rc" -eq 0 ] && [ "$clients_rc" -eq 0 ]
