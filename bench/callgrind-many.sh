#!/bin/bash
# Instructions per echo of one many-connections server, counted by callgrind (deterministic to
# 0.01% from run to run, where wall time on these shared machines moves by 10%): the A/B of a
# change too small to see in `cargo bench --bench many`.
#
#   bash bench/callgrind-many.sh BENCH_BINARY SERVER [N] [SIZE]
#
# BENCH_BINARY: a copy of target/release/deps/many-<hash> (`cargo bench -p wsduplex-bench
# --bench many --no-run` prints it); SERVER: wsduplex-tokio, wsduplex-smol, fastwebsockets or
# tokio-tungstenite; N connections (default 100), messages of SIZE bytes (default 20). The server runs under
# callgrind as the benchmark's `MANY_BASELINE` build, twice (2 000 and 12 000 echoes after the
# same warm-up); the difference over 10 000 is what one echo costs, start-up and warm-up taken
# out.
#
# CALLGRIND_OPTS adds valgrind options (`--dump-instr=yes` for bench/code-lines.py,
# `--cache-sim=yes` for cache misses); CALLGRIND_KEEP=1 keeps the two profiles (out.2000,
# out.12000) and prints their directory.
set -euo pipefail
bin=$(realpath "$1"); server=$2; n=${3:-100}; size=${4:-20}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
dir=$(mktemp -d)
if [ -n "${CALLGRIND_KEEP:-}" ]; then echo "profiles in $dir"; else trap 'rm -rf "$dir"' EXIT; fi
# The wrapper the benchmark starts as its baseline server: callgrind around the same binary,
# left running when the benchmark kills the wrapper, so that it can be ended with a signal and
# write its counts.
cat > "$dir/server.sh" <<WRAP
#!/bin/bash
export WSDUPLEX_BENCH_MANY_SERVER=$server
valgrind --tool=callgrind ${CALLGRIND_OPTS:-} --callgrind-out-file=$dir/out.\$CG_M "$bin" "\$@" 2>/dev/null &
echo \$! > $dir/pid.\$CG_M
wait
WRAP
chmod +x "$dir/server.sh"
total() {
  CG_M=$1 MANY_BASELINE="$dir/server.sh" MANY_SERVERS=wsduplex-tokio MANY_N=$n MANY_SIZES=$size \
    MANY_ROUNDS=1 MANY_M=$1 "$bin" > "$dir/log.$1" 2>&1
  kill -TERM "$(cat "$dir/pid.$1")" 2>/dev/null || true
  for _ in $(seq 50); do grep -qs '^summary:' "$dir/out.$1" && break; sleep 0.2; done
  grep '^summary:' "$dir/out.$1" | awk '{print $2}'
}
a=$(total 2000)
b=$(total 12000)
echo "$server, N = $n, $size B: $(( (b - a) / 10000 )) instructions per echo (user space; $a and $b in all)"
