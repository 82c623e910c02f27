#!/usr/bin/env bash
# Runs a command with cargo-lambda installed (pinned, from PyPI, into .venv-lambda/, once) and
# SCANTIX_TEST_CARGO_LAMBDA pointing at it: the end-to-end test runs the functions under
# `cargo lambda watch`'s Lambda runtime emulator.
#
#   scripts/with-cargo-lambda.sh cargo test -p scantix-tests --test lambda_emulator
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The release the end-to-end test was last run with (`pip index versions cargo-lambda`).
CARGO_LAMBDA_VERSION=1.9.2
VENV=.venv-lambda

if [[ $# -eq 0 ]]; then
    echo "usage: $0 <command> [args...]" >&2
    exit 2
fi
command -v python3 >/dev/null || { echo "with-cargo-lambda.sh: python3 is required" >&2; exit 1; }

if [[ "$("$VENV/bin/cargo-lambda" lambda --version 2>/dev/null)" != "cargo-lambda $CARGO_LAMBDA_VERSION"* ]]; then
    echo "== installing cargo-lambda $CARGO_LAMBDA_VERSION into $VENV/ (it brings ziglang, ~50 MB, once)" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi
export SCANTIX_TEST_CARGO_LAMBDA="$PWD/$VENV/bin/cargo-lambda"
exec "$@"
