#!/usr/bin/env python3
"""Writes events/github/scenario/ (and the upstream licences beside it) from the real webhook payloads in ../shared/fixtures.

Real payloads are copied byte for byte. Derived ones are made by exact text replacements on the
real file (so formatting and every other byte stay as upstream wrote them); each replacement must
match the expected number of times, and the parsed result is checked to differ from its source only
at the JSON paths listed in SOURCES.md. Where an upstream schema exists for the event and action,
the written file is validated against it (needs python3-jsonschema; skipped if missing).

Run from the repository root: python3 events/github/derive-scenario.py
"""

import json
import pathlib
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "github-webhooks"
OCTOKIT = FIXTURES / "octokit-webhooks" / "payload-examples" / "api.github.com"
SCHEMAS = FIXTURES / "octokit-webhooks" / "payload-schemas" / "api.github.com"
OUT = ROOT / "events" / "github" / "scenario"

CREATED = OCTOKIT / "code_scanning_alert" / "created.payload.json"
FIXED = OCTOKIT / "code_scanning_alert" / "fixed.payload.json"
CLOSED = OCTOKIT / "code_scanning_alert" / "closed-by-user.payload.json"
SECRET = OCTOKIT / "secret_scanning_alert" / "reopened.payload.json"

BOOK_SERVICE = "src/main/java/com/github/demo/service/BookService.java"
BOOK_DATABASE = "src/main/java/com/github/demo/service/BookDatabaseImpl.java"


def renumber(old, new, urls):
    """Replacements giving a code scanning alert another number: the number and its URLs."""
    return [
        (f'"number": {old},', f'"number": {new},', 1),
        (f"/code-scanning/alerts/{old}", f"/code-scanning/alerts/{new}", urls),
        (f"/security/code-scanning/{old}\"", f"/security/code-scanning/{new}\"", 1),
    ]


def move(line, instances, path=None):
    """Replacements moving the alert's location (every instance of it) to `path`:`line`."""
    edits = [
        ('"start_line": 84,', f'"start_line": {line},', instances),
        ('"end_line": 84,', f'"end_line": {line},', instances),
    ]
    if path:
        edits.append((f'"path": "{BOOK_SERVICE}"', f'"path": "{path}"', instances))
    return edits


def on_branch():
    """Replacements moving a `fixed` delivery from pull request 11's merge ref to the branch the
    alerts were found on (file 02's `refs/heads/code-feature`): the analysis after the merge."""
    return [("refs/pull/11/merge", "refs/heads/code-feature", 3)]


def sender_as_resolver(text):
    """The payload's own `sender` object, indented to sit at `alert.resolved_by`."""
    start = text.index('  "sender": {') + len('  "sender": ')
    end = text.index("\n  }", start) + len("\n  }")
    return text[start:end].replace("\n", "\n  ")


# (file name, source, replacements, expected changed paths); replacements None = verbatim copy.
def steps():
    secret_text = SECRET.read_text()
    return [
        ("01-ping.json", OCTOKIT / "ping" / "payload.json", None, []),
        ("02-code_scanning_alert.created.json", CREATED, None, []),
        ("03-dependabot_alert.created.json", OCTOKIT / "dependabot_alert" / "created.payload.json", None, []),
        ("04-code_scanning_alert.created.json", CREATED, renumber(10, 11, 1) + move(97, 1),
         ["alert.number", "alert.url", "alert.html_url",
          "alert.instances.0.location.start_line", "alert.instances.0.location.end_line"]),
        ("05-code_scanning_alert.created.json", CREATED, renumber(10, 12, 1) + move(54, 1, BOOK_DATABASE),
         ["alert.number", "alert.url", "alert.html_url", "alert.instances.0.location.path",
          "alert.instances.0.location.start_line", "alert.instances.0.location.end_line"]),
        ("06-code_scanning_alert.created.json",
         FIXTURES / "octokit-webhooks.net" / "code_scanning_alert.created.with-instances-url.payload.json", None, []),
        ("07-code_scanning_alert.fixed.json", FIXED, None, []),
        ("08-code_scanning_alert.fixed.json", FIXED, on_branch(),
         ["ref", "alert.most_recent_instance.ref", "alert.instances.0.ref"]),
        ("09-code_scanning_alert.fixed.json", FIXED, renumber(10, 11, 2) + move(97, 2) + on_branch(),
         ["alert.number", "alert.url", "alert.html_url", "alert.instances_url",
          "alert.most_recent_instance.location.start_line", "alert.most_recent_instance.location.end_line",
          "alert.instances.0.location.start_line", "alert.instances.0.location.end_line",
          "ref", "alert.most_recent_instance.ref", "alert.instances.0.ref"]),
        ("10-code_scanning_alert.fixed.json", FIXED, renumber(10, 12, 2) + move(54, 2, BOOK_DATABASE) + on_branch(),
         ["alert.number", "alert.url", "alert.html_url", "alert.instances_url",
          "alert.most_recent_instance.location.path",
          "alert.most_recent_instance.location.start_line", "alert.most_recent_instance.location.end_line",
          "alert.instances.0.location.path",
          "alert.instances.0.location.start_line", "alert.instances.0.location.end_line",
          "ref", "alert.most_recent_instance.ref", "alert.instances.0.ref"]),
        ("11-code_scanning_alert.reopened.json", CREATED,
         [('"action": "created",', '"action": "reopened",', 1)], ["action"]),
        ("12-code_scanning_alert.closed_by_user.json", CLOSED, renumber(10, 13, 1),
         ["alert.number", "alert.url", "alert.html_url"]),
        ("13-secret_scanning_alert.reopened.json", SECRET, None, []),
        ("14-secret_scanning_alert.resolved.json", SECRET, [
            ('"action": "reopened",', '"action": "resolved",', 1),
            ('"resolution": null,', '"resolution": "false_positive",', 1),
            ('"resolved_by": null,', f'"resolved_by": {sender_as_resolver(secret_text)},', 1),
            ('"resolved_at": null', '"resolved_at": "2020-11-24T02:00:00Z"', 1),
        ], ["action", "alert.resolution", "alert.resolved_by", "alert.resolved_at"]),
        ("15-check_run.created.json", OCTOKIT / "check_run" / "created.payload.json", None, []),
    ]


def changed_paths(a, b, prefix=""):
    """JSON paths (dotted, list indices as numbers) where two parsed documents differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            path = f"{prefix}.{key}" if prefix else key
            if key not in a or key not in b:
                out.append(path)
            else:
                out += changed_paths(a[key], b[key], path)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b)) for p in changed_paths(x, y, f"{prefix}.{i}")]
    return [] if a == b else [prefix]


def validator():
    """A function validating a payload against octokit's schema for its event and action."""
    try:
        import jsonschema
        from referencing import Registry, Resource
    except ImportError:
        print("python3-jsonschema not installed: schema validation skipped", file=sys.stderr)
        return lambda *_: None
    registry = Registry()
    for schema in SCHEMAS.rglob("*.schema.json"):
        contents = json.loads(schema.read_text())
        resource = Resource.from_contents(contents)
        registry = registry.with_resource(contents["$id"], resource)
        # The common schemas refer to each other by bare file name.
        if schema.parent.name == "common":
            registry = registry.with_resource(schema.name, resource)

    def errors(event, action, payload):
        """Leaf validation errors of `payload` under octokit's schema for `event` and `action`."""
        schema = SCHEMAS / event / f"{action}.schema.json"
        if not schema.exists():
            return None
        validator = jsonschema.Draft7Validator(json.loads(schema.read_text()), registry=registry)
        leaves, stack = set(), list(validator.iter_errors(payload))
        while stack:
            error = stack.pop()
            if error.context:
                stack += error.context
            else:
                leaves.add((".".join(map(str, error.absolute_path)), error.message))
        return leaves

    def validate(event, source, payload):
        action = payload["action"]
        derived = errors(event, action, payload)
        if derived is None:
            return
        # Upstream examples lag their schemas (the secret scanning one has the older, smaller
        # alert shape: no `created_at`, `state`, …). A derived file may keep what its source
        # already lacked under the same schema, never add a departure of its own.
        new = derived - errors(event, action, source)
        if new:
            sys.exit(f"derived payload breaks its schema: {sorted(new)}")
        kept = f" except what its source lacks: {sorted(derived)}" if derived else ""
        print(f"  valid against {event}/{payload['action']}.schema.json{kept}")

    return validate


# Each upstream's licence, copied verbatim beside the files taken from it.
LICENCES = [
    (FIXTURES / "octokit-webhooks" / "LICENSE", OUT.parent / "LICENSE.octokit-webhooks"),
    (FIXTURES / "octokit-webhooks.net" / "LICENSE.md", OUT.parent / "LICENSE.octokit-webhooks.net"),
]


def main():
    validate = validator()
    for source, target in LICENCES:
        shutil.copyfile(source, target)
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    for name, source, edits, expected in steps():
        target = OUT / name
        print(f"{name} <- {source.relative_to(FIXTURES)}")
        if edits is None:
            shutil.copyfile(source, target)
            continue
        text = source.read_text()
        for old, new, count in edits:
            found = text.count(old)
            if found != count:
                sys.exit(f"{name}: expected {count} of {old!r} in {source.name}, found {found}")
            text = text.replace(old, new)
        target.write_text(text)
        paths = changed_paths(json.loads(source.read_text()), json.loads(text))
        if sorted(paths) != sorted(expected):
            sys.exit(f"{name}: changed {paths}, expected {expected}")
        print("  changed: " + ", ".join(paths))
        payload = json.loads(text)
        validate(name.split(".")[0].split("-", 1)[1], json.loads(source.read_text()), payload)


if __name__ == "__main__":
    main()
