#!/usr/bin/env bash
# Lints the deployment files offline: the SAM template with a pinned cfn-lint, and the GitHub App
# manifest (valid JSON, exactly the permissions and events the App is meant to ask for).
#
#   scripts/lint-infra.sh
#
# The tools are installed once into .venv-infra/ (keep it out of git), pinned, because cfn-lint
# releases differ in what they catch (new rules, new resource schemas): a template that is clean
# today must stay clean until someone moves a pin on purpose. Any finding, error, warning or
# informational, fails the script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The releases this template was last checked with (PyPI, `pip index versions <name>`).
CFN_LINT_VERSION=1.58.0
SAM_TRANSLATOR_VERSION=1.115.0
VENV=.venv-infra

command -v python3 >/dev/null || { echo "lint-infra.sh: python3 is required" >&2; exit 1; }

installed() {
    "$VENV/bin/python" - "$@" 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
sys.exit(0 if all(version(n) == v for n, v in zip(sys.argv[1::2], sys.argv[2::2])) else 1)
PY
}
if ! installed cfn-lint "$CFN_LINT_VERSION" aws-sam-translator "$SAM_TRANSLATOR_VERSION"; then
    echo "== installing cfn-lint $CFN_LINT_VERSION and aws-sam-translator $SAM_TRANSLATOR_VERSION into $VENV/"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "cfn-lint==$CFN_LINT_VERSION" "aws-sam-translator==$SAM_TRANSLATOR_VERSION"
fi

echo "== cfn-lint infra/template.yaml"
# No options: every rule the release ships with; cfn-lint exits non-zero on any finding.
"$VENV/bin/cfn-lint" infra/template.yaml

# cfn-lint 1.x no longer expands the SAM transform: it checks AWS::Serverless::* resources against
# SAM's schema, and skips some rules altogether under the transform (IAM actions are not checked,
# aws/serverless-application-model#3633). So the template is also expanded here as CloudFormation
# would expand it (SAM's own translator, the code behind the AWS::Serverless transform) and the plain
# CloudFormation that comes out is linted too: generated roles, permissions, URLs, schedules.
echo "== cfn-lint on the SAM-expanded template"
# Kept in the venv folder (out of git) so a finding's line number can be looked up.
expanded="$VENV/expanded-template.json"
# A region is only read to fill pseudo parameters; no AWS call is made (policy templates and
# inline statements need no IAM lookup; the managed-policy loader below answers from nothing).
AWS_DEFAULT_REGION=us-east-1 "$VENV/bin/python" - infra/template.yaml "$expanded" <<'PY'
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicies:
    def load(self):
        return {}

with open(sys.argv[1], encoding="utf-8") as f:
    template = yaml_parse(f.read())
# What `sam package` does before the transform runs: local code folders become S3 objects.
template["Globals"]["Function"]["CodeUri"] = "s3://scantix-artifacts/placeholder.zip"
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump(transform(template, {}, NoManagedPolicies()), f, indent=1)
PY
# W1031 is left out of this pass only: the expanded template names the optional Jira secret ARNs
# (default "") inside statements that exist only when Tracker is jira, and cfn-lint checks the
# default against the ARN pattern without knowing the Rules that forbid "" then. The source pass
# above keeps W1031.
"$VENV/bin/cfn-lint" --ignore-checks W1031 -- "$expanded"

echo "== the audit trail is append-only for every role (expanded template)"
# Every IAM role that may write the table must deny UpdateItem, DeleteItem and BatchWriteItem on
# audit partitions (`A#…`) and on their day index (`AD#…`, which `A#*` does not match), and none
# may be granted BatchWriteItem or `dynamodb:*` (whose deletes no key condition could tell from
# puts). A role added later without the statement fails here; so does a deny narrowed to one of
# the two prefixes, or one under a condition operator that would not apply it to every key.
"$VENV/bin/python" - "$expanded" <<'PY'
import json, sys

with open(sys.argv[1], encoding="utf-8") as f:
    resources = json.load(f)["Resources"]

WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
MUST_DENY = {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
# The audit items (`A#<group>`) and the day index that points at them (`AD#<day>`).
AUDIT_PREFIXES = {"A#*", "AD#*"}

def listed(value):
    return value if isinstance(value, list) else [value]

def statements(role):
    for policy in role["Properties"].get("Policies", []):
        document = policy.get("PolicyDocument", {})
        for statement in listed(document.get("Statement", [])):
            yield statement
        # Conditional policies (Fn::If) hold their document one level down.
    for policy in role["Properties"].get("Policies", []):
        if "Fn::If" in policy:
            for branch in policy["Fn::If"][1:]:
                if isinstance(branch, dict):
                    for statement in listed(branch.get("PolicyDocument", {}).get("Statement", [])):
                        yield statement

problems, checked = [], 0
for name, resource in resources.items():
    if resource.get("Type") != "AWS::IAM::Role":
        continue
    allowed, denies_audit = set(), False
    for statement in statements(resource):
        actions = set(listed(statement.get("Action", [])))
        if statement.get("Effect") == "Allow":
            allowed |= actions
        conditions = statement.get("Condition", {})
        condition = conditions.get("ForAnyValue:StringLike", {})
        # The deny must hold for any request touching an audit key, and under no other condition
        # that could switch it off.
        if (statement.get("Effect") == "Deny" and MUST_DENY <= actions
                and set(conditions) == {"ForAnyValue:StringLike"}
                and AUDIT_PREFIXES <= set(listed(condition.get("dynamodb:LeadingKeys", [])))):
            denies_audit = True
    if "dynamodb:*" in allowed or "dynamodb:BatchWriteItem" in allowed:
        problems.append(f"{name}: grants BatchWriteItem or dynamodb:* (deletes indistinguishable from puts)")
    writes = allowed & WRITES
    # Roles that only put inbox items (condition on IN#*) cannot reach audit partitions.
    if writes - {"dynamodb:PutItem"} and not denies_audit:
        problems.append(f"{name}: may write the table ({sorted(writes)}) without denying changes to audit entries (A#*, AD#*)")
    # The OCSF publisher only reads what a change names: no write of any kind.
    if name.startswith("OcsfPublisherFunction") and writes:
        problems.append(f"{name}: the OCSF publisher may write the table ({sorted(writes)}); it only reads")
    checked += 1
if problems:
    for p in problems:
        print(f"infra/template.yaml: {p}", file=sys.stderr)
    sys.exit(1)
print(f"audit append-only: ok ({checked} roles)")
PY

echo "== KMS grants: data keys for the bucket writers only (expanded template)"
# An SSE-KMS bucket's key is granted to the roles that write that bucket (the sweeper's report,
# the OCSF publisher's S3 sink) and to no other; each grant is kms:GenerateDataKey alone (what S3
# calls for a PutObject), on the one key the parameter names (never `*`), only through S3
# (kms:ViaService) and only for the bucket's objects (the encryption context). No role may hold
# kms:Decrypt, kms:* or any other KMS action: a widened grant fails here.
"$VENV/bin/python" - "$expanded" <<'PY'
import json, sys

with open(sys.argv[1], encoding="utf-8") as f:
    resources = json.load(f)["Resources"]

WRITERS = {"SweeperFunctionRole": "ReportKmsKeyArn", "OcsfPublisherFunctionRole": "SiemKmsKeyArn"}

def listed(value):
    return value if isinstance(value, list) else [value]

def statements(role):
    for policy in role["Properties"].get("Policies", []):
        branches = policy["Fn::If"][1:] if "Fn::If" in policy else [policy]
        for branch in branches:
            if isinstance(branch, dict):
                yield from listed(branch.get("PolicyDocument", {}).get("Statement", []))

problems, grants = [], 0
for name, resource in resources.items():
    if resource.get("Type") != "AWS::IAM::Role":
        continue
    for statement in statements(resource):
        actions = [a for a in listed(statement.get("Action", [])) if a.lower().startswith("kms:")]
        if not actions or statement.get("Effect") != "Allow":
            continue
        grants += 1
        if name not in WRITERS:
            problems.append(f"{name}: KMS grant {actions} on a role that writes no encrypted bucket")
            continue
        if actions != ["kms:GenerateDataKey"]:
            problems.append(f"{name}: KMS grant {actions}; only kms:GenerateDataKey is needed")
        if statement.get("Resource") != {"Ref": WRITERS[name]}:
            problems.append(f"{name}: KMS grant on {statement.get('Resource')}, not on the key {WRITERS[name]} names")
        condition = statement.get("Condition", {})
        if "kms:ViaService" not in condition.get("StringEquals", {}):
            problems.append(f"{name}: KMS grant usable outside S3 (no kms:ViaService)")
        if "kms:EncryptionContext:aws:s3:arn" not in condition.get("StringLike", {}):
            problems.append(f"{name}: KMS grant for any bucket (no aws:s3:arn encryption context)")
if grants != len(WRITERS):
    problems.append(f"expected one KMS grant per bucket writer ({sorted(WRITERS)}), found {grants}")
if problems:
    for p in problems:
        print(f"infra/template.yaml: {p}", file=sys.stderr)
    sys.exit(1)
print(f"KMS grants: ok ({grants} writers, kms:GenerateDataKey through S3 only)")
PY

echo "== infra/github-app-manifest.json"
python3 - infra/github-app-manifest.json <<'PY'
import json, sys

path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    manifest = json.load(f)  # a syntax error fails here, with line and column

# What scantix asks of GitHub, and nothing more (infra/README-deploy.md says why each;
# tests/app_manifest.rs ties each to the code that needs it).
expected_permissions = {
    "security_events": "write",
    "vulnerability_alerts": "write",
    "secret_scanning_alerts": "write",
    "contents": "read",
    "issues": "write",
    "pull_requests": "write",
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
