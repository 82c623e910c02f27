#!/usr/bin/env bash
# Runs a command with moto's server installed (pinned, from PyPI, into .venv-moto/, once) and
# SCANTIX_TEST_MOTO_PYTHON pointing at that virtualenv's python: the SIEM sink tests start a real
# local AWS emulator with it (`python -m moto.server` on a free port: S3, Firehose, EventBridge,
# SQS) and read back the objects and records that arrived, through the AWS SDK.
#
#   scripts/with-moto.sh cargo test -p scantix-tests --test ocsf_publisher
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The release the sink tests were last run with (`pip index versions moto`).
MOTO_VERSION=5.2.5
VENV=.venv-moto

if [[ $# -eq 0 ]]; then
    echo "usage: $0 <command> [args...]" >&2
    exit 2
fi
command -v python3 >/dev/null || { echo "with-moto.sh: python3 is required" >&2; exit 1; }

if ! "$VENV/bin/python" -c "import moto, moto.server, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    echo "== installing moto[server] $MOTO_VERSION into $VENV/" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
export SCANTIX_TEST_MOTO_PYTHON="$PWD/$VENV/bin/python"
exec "$@"
