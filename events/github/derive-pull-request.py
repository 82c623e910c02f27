#!/usr/bin/env python3
"""Writes events/github/pull-request/ (and the upstream licence beside its files) from the real webhook payloads in ../shared/fixtures.

The same rules as derive-scenario.py: real payloads are copied byte for byte; derived ones are made
by exact text replacements on the real file (formatting and every other byte stay as upstream wrote
them); each replacement must match the expected number of times, and the parsed result must differ
from its source only at the JSON paths listed in pull-request/SOURCES.md. Where an upstream schema
exists for the event and action, the written file is validated against it (needs
python3-jsonschema; skipped if missing). Octokit has no schemas for `pull_request`.

Run from the repository root: python3 events/github/derive-pull-request.py
"""

import importlib.util
import json
import pathlib
import shutil
import sys

HERE = pathlib.Path(__file__).resolve().parent
# The scenario's script owns the shared helpers (paths, diffing, schema validation).
_spec = importlib.util.spec_from_file_location("derive_scenario", HERE / "derive-scenario.py")
scenario = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scenario)

OCTOKIT = scenario.OCTOKIT
OUT = HERE / "pull-request"

CREATED = OCTOKIT / "code_scanning_alert" / "created.payload.json"
FIXED = OCTOKIT / "code_scanning_alert" / "fixed.payload.json"
PULL = OCTOKIT / "pull_request"

# Octokit's pull request examples are in Codertocat/Hello-World with id 186853002, its code
# scanning examples in Codertocat/Hello-World with id 337911632: one repository for scantix only if
# the ids agree. The pull request's head and base name the same repository, so all three change.
SAME_REPOSITORY = [('"id": 186853002,', '"id": 337911632,', 3)]
REPOSITORY_PATHS = ["pull_request.head.repo.id", "pull_request.base.repo.id", "repository.id"]

ON_THE_PR = "refs/pull/2/merge"


def created_on_the_pr(number, line):
    """Alert 10's `created` as alert `number` at line `line`, found on the pull request's merge ref."""
    return scenario.renumber(10, number, 1) + scenario.move(line, 1) + [
        ('"ref": "refs/heads/code-feature"', f'"ref": "{ON_THE_PR}"', 2),
    ]


CREATED_PATHS = ["alert.number", "alert.url", "alert.html_url",
                 "alert.instances.0.location.start_line", "alert.instances.0.location.end_line",
                 "alert.instances.0.ref", "ref"]


def steps():
    return [
        ("01-code_scanning_alert.created.json", CREATED, None, []),
        ("02-pull_request.opened.json", PULL / "opened.payload.json", SAME_REPOSITORY, REPOSITORY_PATHS),
        ("03-code_scanning_alert.created.json", CREATED, created_on_the_pr(31, 120), CREATED_PATHS),
        ("04-code_scanning_alert.created.json", CREATED, created_on_the_pr(32, 140), CREATED_PATHS),
        ("05-code_scanning_alert.fixed.json", FIXED,
         [('"ref": "refs/pull/11/merge"', f'"ref": "{ON_THE_PR}"', 3)],
         ["alert.most_recent_instance.ref", "alert.instances.0.ref", "ref"]),
        ("06-pull_request.synchronize.json", PULL / "synchronize.payload.json", SAME_REPOSITORY,
         REPOSITORY_PATHS),
        ("07-pull_request.closed.json", PULL / "closed.payload.json", SAME_REPOSITORY + [
            ('"merged": false,', '"merged": true,', 1),
            ('"merged_at": null,', '"merged_at": "2019-05-15T15:21:18Z",', 1),
        ], REPOSITORY_PATHS + ["pull_request.merged", "pull_request.merged_at"]),
    ]


def main():
    validate = scenario.validator()
    OUT.mkdir(parents=True, exist_ok=True)
    for stale in OUT.glob("*.json"):
        stale.unlink()
    shutil.copyfile(scenario.FIXTURES / "octokit-webhooks" / "LICENSE", OUT / "LICENSE.octokit-webhooks")
    for name, source, edits, expected in steps():
        target = OUT / name
        print(f"{name} <- {source.relative_to(scenario.FIXTURES)}")
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
        paths = scenario.changed_paths(json.loads(source.read_text()), json.loads(text))
        if sorted(paths) != sorted(expected):
            sys.exit(f"{name}: changed {paths}, expected {expected}")
        print("  changed: " + ", ".join(paths))
        validate(name.split(".")[0].split("-", 1)[1], json.loads(source.read_text()), json.loads(text))


if __name__ == "__main__":
    main()
