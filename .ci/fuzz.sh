#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (FUZZ_SECONDS, default 60), from the committed
# seeds. Installs cargo-fuzz if it is missing; needs the nightly toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cargo +nightly fuzz build
for target in decode session handshake inflate differential; do
    mkdir -p "fuzz/corpus/$target"
    echo "fuzz: $target for ${SECONDS_PER_TARGET}s"
    cargo +nightly fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
        | grep -E '^(Done|stat::number_of_executed_units|==[0-9]+== ERROR|thread .* panicked)|SUMMARY' || true
    # libFuzzer leaves a crash-* file for any failing input.
    if compgen -G "fuzz/artifacts/$target/*" >/dev/null; then
        echo "fuzz: $target found a failing input:" >&2
        ls "fuzz/artifacts/$target" >&2
        exit 1
    fi
done
