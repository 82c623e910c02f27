#!/usr/bin/env bash
# Seeds fuzz/corpus/TARGET from the real payloads this repository tests with, so fuzzing starts
# from inputs that reach deep into each parser: always the repository's own (events/,
# tests/fixtures, the example settings files, inputs of past findings), and, when present, the
# shared fixtures beside the repository (../shared/fixtures, or SCANTIX_FIXTURES; `none` to leave
# them out, as `scripts/fuzz.sh --ci` does, so a fresh clone seeds the same corpus anywhere).
# The corpora are not committed (fuzz/.gitignore): run this again to rebuild them.
# Usage: fuzz/seed-corpus.sh [TARGET...] (default: every target).
set -euo pipefail
fuzz="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$fuzz")"
fixtures="${SCANTIX_FIXTURES:-$root/../shared/fixtures}"
if [[ "$fixtures" == none || ! -d "$fixtures" ]]; then
  [[ "$fixtures" == none ]] || echo "seed-corpus: no shared fixtures at $fixtures; the repository's own only" >&2
  fixtures=""
fi
# The files under each directory that exists, named by `find` arguments: `files DIR... -- ARGS`.
files() {
  local dirs=() d
  while [[ "$1" != -- ]]; do
    [[ -n "$1" && -d "$1" ]] && dirs+=("$1")
    shift
  done
  shift
  [[ ${#dirs[@]} -eq 0 ]] || find "${dirs[@]}" "$@"
}
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(github_webhook jira_webhook sarif repo_config codeowners ticket_render signature)
fi

# A seed named after its content, so seeding twice adds nothing.
put() { # put TARGET FILE-WITH-CONTENT
  local dir="$fuzz/corpus/$1" sum
  mkdir -p "$dir"
  sum="$(sha1sum "$2" | cut -c1-40)"
  cp "$2" "$dir/$sum"
}
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT

# GitHub: `X-GitHub-Event` on the first line, then the body. The event comes from where the
# payload is filed (octokit's folders, octocrab's and scantix's file names); each body is also
# paired with the other events scantix reads, so every parser sees every shape.
github_events=(code_scanning_alert dependabot_alert secret_scanning_alert installation
  installation_repositories issues pull_request ping)
seed_github() { # seed_github EVENT FILE
  local event
  for event in "$1" "${github_events[@]}"; do
    { printf '%s\n' "$event"; cat "$2"; } >"$tmp"
    put github_webhook "$tmp"
  done
}
github() {
  local f event
  while IFS= read -r f; do
    seed_github "$(basename "$(dirname "$f")")" "$f"
  done < <(files "${fixtures:+$fixtures/github-webhooks/octokit-webhooks/payload-examples}" -- -name '*.json')
  while IFS= read -r f; do
    event="$(basename "$f" _webhook_event.json)"
    case "$event" in
      installation_repositories_*) event=installation_repositories ;;
      issue_comment_*) event=issue_comment ;;
      pull_request_*) event=pull_request ;;
      *) event="${event%_*}" ;;
    esac
    seed_github "$event" "$f"
  done < <(files "${fixtures:+$fixtures/github-webhooks/octocrab/webhooks}" -- -name '*.json')
  while IFS= read -r f; do
    event="$(basename "$f")"
    event="${event#[0-9][0-9]-}"
    seed_github "${event%%.*}" "$f"
  done < <(files "${fixtures:+$fixtures/github-webhooks/octokit-webhooks.net}" \
    "$root/events/github/scenario" "$root/events/github/pull-request" -- -name '*.json')
}

jira() {
  local f
  while IFS= read -r f; do put jira_webhook "$f"; done \
    < <(files "${fixtures:+$fixtures/jira-webhooks}" "$root/events/jira" -- -name '*.json')
}

sarif() {
  local f
  while IFS= read -r f; do put sarif "$f"; done \
    < <(files "${fixtures:+$fixtures/sarif}" "$root/tests/fixtures/sarif" -- -name '*.sarif')
}

repo_config() {
  put repo_config "$root/events/github/scantix.yml"
  put repo_config "$root/shared/app/src/repo_config.example.yml"
  local f
  while IFS= read -r f; do put repo_config "$f"; done \
    < <(files "$root/shared/app/src/testdata" -- -name 'fuzz-repo_config-*')
}

# CODEOWNERS: GitHub's documented example and the shapes scantix's tests name; the file, then a
# NUL byte, then paths to look up, one a line.
codeowners() {
  printf '%s\0%s\n' \
    '# Each line is a file pattern followed by one or more owners.
*       @global-owner1 @global-owner2
*.js    @js-owner #This is an inline comment.
*.go docs@example.com
*.txt @octo-org/octocats
/build/logs/ @doctocat
docs/*  docs@example.com
apps/ @octocat
/docs/ @doctocat
/scripts/ @doctocat @octocat
**/logs @octocat
/apps/ @octocat
/apps/github
/app/[locale]/ @i18n
\#literal @hash
path\ with\ space @spaces
!negated @nobody' \
    'src/app.js
build/logs/x.log
docs/a/b.md
apps/github/x.go
app/[locale]/page.tsx' >"$tmp"
  put codeowners "$tmp"
  printf '%s\0%s\n' '**/*.rs @rust' 'a/b/c.rs' >"$tmp"
  put codeowners "$tmp"
}

# Structured targets (`arbitrary` reads their input): a few random seeds; the fuzzer builds on them.
random_seeds() {
  local i
  for i in 1 2 3 4 5 6 7 8; do
    head -c $((i * 512)) /dev/urandom >"$tmp"
    put "$1" "$tmp"
  done
}

for target in "${targets[@]}"; do
  case "$target" in
    github_webhook) github ;;
    jira_webhook) jira ;;
    sarif) sarif ;;
    repo_config) repo_config ;;
    codeowners) codeowners ;;
    ticket_render | signature) random_seeds "$target" ;;
    *) echo "seed-corpus: no target $target" >&2; exit 1 ;;
  esac
  echo "seed-corpus: $target: $(find "$fuzz/corpus/$target" -type f | wc -l) seeds"
done
