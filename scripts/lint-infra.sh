#!/usr/bin/env bash
# Lints the deployment files offline: the SAM template with a pinned cfn-lint, and the GitHub App
# manifest (valid JSON, exactly the permissions and events the App is meant to ask for).
#
#   scripts/lint-infra.sh
#
# cfn-lint is installed once into .venv-infra/ (keep it out of git). It is pinned because cfn-lint
# releases differ in what they catch (new rules, new resource schemas): a template that is clean
# today must stay clean until someone moves the pin on purpose. Any finding, error or warning,
# fails the script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The cfn-lint release this template was last checked with (PyPI, `pip index versions cfn-lint`).
CFN_LINT_VERSION=1.58.0
VENV=.venv-infra

command -v python3 >/dev/null || { echo "lint-infra.sh: python3 is required" >&2; exit 1; }

if [[ "$("$VENV/bin/cfn-lint" --version 2>/dev/null)" != "cfn-lint $CFN_LINT_VERSION" ]]; then
    echo "== installing cfn-lint $CFN_LINT_VERSION into $VENV/"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION"
fi

echo "== cfn-lint $CFN_LINT_VERSION infra/template.yaml"
# No options: every rule the release ships with, errors (E), warnings (W) and informational (I)
# findings alike; cfn-lint exits non-zero on any of them.
"$VENV/bin/cfn-lint" infra/template.yaml

echo "== infra/github-app-manifest.json"
python3 - infra/github-app-manifest.json <<'PY'
import json, sys

path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    manifest = json.load(f)  # a syntax error fails here, with line and column

# What scantix asks of GitHub, and nothing more (infra/README-deploy.md says why each).
expected_permissions = {
    "security_events": "write",
    "vulnerability_alerts": "write",
    "secret_scanning_alerts": "write",
    "contents": "read",
    "issues": "write",
    "pull_requests": "write",
    "checks": "write",
    "metadata": "read",
}
expected_events = {"code_scanning_alert", "dependabot_alert", "secret_scanning_alert", "pull_request", "issues"}
known_keys = {
    "name", "url", "hook_attributes", "redirect_url", "callback_urls", "setup_url", "description",
    "public", "default_events", "default_permissions", "request_oauth_on_install", "setup_on_update",
}

problems = []
unknown = set(manifest) - known_keys
if unknown:
    problems.append(f"keys GitHub's manifest format does not have: {sorted(unknown)}")
for key in ("name", "url", "hook_attributes", "redirect_url", "public", "default_permissions", "default_events"):
    if key not in manifest:
        problems.append(f"missing `{key}`")
if not isinstance(manifest.get("hook_attributes", {}).get("url"), str):
    problems.append("`hook_attributes.url` must be a string (it is required by GitHub)")
if manifest.get("default_permissions") != expected_permissions:
    problems.append(f"`default_permissions` is {manifest.get('default_permissions')}, expected {expected_permissions}")
events = manifest.get("default_events", [])
if sorted(events) != sorted(expected_events) or len(events) != len(set(events)):
    problems.append(f"`default_events` is {events}, expected {sorted(expected_events)}")
if problems:
    for p in problems:
        print(f"{path}: {p}", file=sys.stderr)
    sys.exit(1)
print(f"{path}: ok ({len(expected_permissions)} permissions, {len(expected_events)} events)")
PY
