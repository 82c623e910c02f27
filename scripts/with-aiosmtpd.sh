#!/usr/bin/env bash
# Runs a command with aiosmtpd installed (pinned, from PyPI, into .venv-smtp/, once) and
# SCANTIX_TEST_SMTP_PYTHON pointing at that virtualenv's python: the email tests start a real SMTP
# server with it (`python -m aiosmtpd`, messages into a Maildir) and read back what arrived.
#
#   scripts/with-aiosmtpd.sh cargo test -p scantix-tests --test email_tracker
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The release the email tests were last run with (`pip index versions aiosmtpd`).
AIOSMTPD_VERSION=1.4.6
VENV=.venv-smtp

if [[ $# -eq 0 ]]; then
    echo "usage: $0 <command> [args...]" >&2
    exit 2
fi
command -v python3 >/dev/null || { echo "with-aiosmtpd.sh: python3 is required" >&2; exit 1; }

if ! "$VENV/bin/python" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" 2>/dev/null; then
    echo "== installing aiosmtpd $AIOSMTPD_VERSION into $VENV/" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
fi
export SCANTIX_TEST_SMTP_PYTHON="$PWD/$VENV/bin/python"
exec "$@"
