#!/usr/bin/env bash
# The public API of every published crate, listed by cargo-public-api (from rustdoc's JSON,
# hence nightly) and compared with the listing checked in under api/: a change to the API is
# a visible diff in review. After an intended change: bash .ci/public-api.sh --bless
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: each release reads one version of rustdoc's JSON format.
VERSION=0.52.0
ROOT=${PUBLIC_API_ROOT:-target/tools}
if ! "$ROOT/bin/cargo-public-api" --version 2>/dev/null | grep -q "$VERSION"; then
    cargo install cargo-public-api --version "$VERSION" --locked --root "$ROOT" --quiet
fi

status=0
for crate in wsduplex-core wsduplex-async wsduplex-std wsduplex-smol wsduplex-tokio; do
    # -sss: leave out blanket, auto-trait and auto-derived impls (noise that no one writes).
    "$ROOT/bin/cargo-public-api" public-api -p "$crate" --all-features -sss --color never \
        > "target/$crate.api.txt" 2> "target/$crate.api.log" \
        || { cat "target/$crate.api.log"; exit 1; }
    if [[ "${1:-}" == "--bless" ]]; then
        cp "target/$crate.api.txt" "api/$crate.txt"
    elif ! diff -u "api/$crate.txt" "target/$crate.api.txt"; then
        echo "public API of $crate changed (above); if intended: bash .ci/public-api.sh --bless" >&2
        status=1
    fi
done
exit $status
