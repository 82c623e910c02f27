#!/usr/bin/env bash
# The scantix demo: builds the `scantix` command, delivers the bundled scenario of real GitHub
# webhook payloads (events/github/scenario, see events/github/SOURCES.md) one step at a time into a
# fresh store under target/demo/, then lists the tickets. Your own store (.scantix/) is untouched.
#
# Usage: bash scripts/demo.sh        (from anywhere; it works from the repository root)
set -euo pipefail

started=$SECONDS
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> building scantix (debug)"
cargo build -p scantix-cli --bin scantix
scantix=target/debug/scantix

# A store of its own, and the local default webhook secret (deliver signs with whatever the
# ingest checks, so any value works; unset keeps the demo independent of the caller's shell).
export SCANTIX_STORE=target/demo
unset SCANTIX_WEBHOOK_SECRET RUST_LOG
"$scantix" reset 2>/dev/null

# Alerts are judged by the Rego policy, as deployed. The scenario follows Hello-World's team on its
# branch `code-feature`, which the bundled policy would only record (it tickets the default
# branch): the scenario's settings are the bundled policy plus one rule (see the file).
export SCANTIX_CONFIG=events/github/scantix.yml
echo "==> triage: the bundled policy, plus a rule for the team's branch ($SCANTIX_CONFIG)"

scenario=events/github/scenario
step() {
    local file=$1 caption=$2
    echo
    echo "==> ${file%%-*}. $caption"
    "$scantix" deliver "$scenario/$file"
}

step 01-ping.json \
    "GitHub pings the new webhook: answered, nothing recorded"
step 02-code_scanning_alert.created.json \
    "CodeQL finds a SQL injection in Codertocat/Hello-World (alert 10): a ticket is created"
step 03-dependabot_alert.created.json \
    "Dependabot flags semver in wolfy1339/pika-pack, a second repository: its own ticket"
step 04-code_scanning_alert.created.json \
    "Alert 11, the same rule in the same file: joins the SQL injection ticket"
step 05-code_scanning_alert.created.json \
    "Alert 12, the same rule in another file: joins the same ticket too"
step 06-code_scanning_alert.created.json \
    "Trivy reports a CVE seen only on a pull request's merge ref: recorded, not ticketed"
step 07-code_scanning_alert.fixed.json \
    "Pull request 11 fixes alert 10 on its merge ref: the branch still has it, the ticket waits"
step 08-code_scanning_alert.fixed.json \
    "Pull request 11 merged: alert 10 fixed on the branch, the ticket is updated, two still open"
step 09-code_scanning_alert.fixed.json \
    "Alert 11 fixed: one left"
step 10-code_scanning_alert.fixed.json \
    "Alert 12 fixed, the last one: the ticket is marked stale, with a comment saying why"
step 11-code_scanning_alert.reopened.json \
    "Alert 10 reappears on refs/heads/code-feature: the same ticket is reopened, with a comment"
step 12-code_scanning_alert.closed_by_user.json \
    "Codertocat dismisses an Anchore alert nobody was tracking yet: recorded, no ticket"
step 13-secret_scanning_alert.reopened.json \
    "Secret scanning: an Adafruit IO key, open again and new to scantix: a ticket"
step 14-secret_scanning_alert.resolved.json \
    "Codertocat resolves it as a false positive: a comment says who and why; the ticket goes stale"
step 15-check_run.created.json \
    "A CI check run: not a security alert, ignored"

echo
echo "==> 16. Bandit scans acme/payments (SARIF, 11 findings, 8 ticketed) under the scenario's budget of 3"
echo "        tickets per repository: 3 tickets, the other 5 listed in one overflow ticket"
"$scantix" sarif tests/fixtures/sarif/generated/bandit-1.9.4.sarif --repo acme/payments --repo-id 4242

echo
echo "==> GitHub redelivers step 10 (a retry after a timeout): a duplicate, nothing decided again"
"$scantix" deliver "$scenario/10-code_scanning_alert.fixed.json"

echo
echo "==> scantix tickets"
"$scantix" tickets

echo
echo "Demo finished in $((SECONDS - started)) s (store: $SCANTIX_STORE; inspect it with"
echo "  SCANTIX_STORE=$SCANTIX_STORE $scantix tickets --json)"
