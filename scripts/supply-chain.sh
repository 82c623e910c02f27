#!/usr/bin/env bash
# Supply-chain checks that need no service beyond crates.io: banned crate versions and
# duplicate major versions (`bans`), licences (`licenses`) and where crates come from (`sources`),
# all against Cargo.lock and the rules in deny.toml.
#
#   scripts/supply-chain.sh                 # the offline checks
#   scripts/supply-chain.sh advisories      # RustSec advisories too (fetches the advisory database)
#
# cargo-deny is built from crates.io once, at a pinned version, into .tools/ in the repo root
# (gitignored): no binary downloads from GitHub, nothing installed outside the repository. The
# advisory check is not part of CI here because it needs the RustSec database from GitHub; run it
# wherever that can be fetched (README: "Supply chain").
set -euo pipefail

# Pinned: a new cargo-deny can add checks (or change deny.toml's schema) and fail CI on its own.
readonly CARGO_DENY_VERSION="0.20.2"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly tools_dir="$repo_root/.tools"
readonly install_root="$tools_dir/cargo-deny-$CARGO_DENY_VERSION"
readonly cargo_deny="$install_root/bin/cargo-deny"

say() { echo "supply-chain: $*" >&2; }
fail() { say "error: $*"; exit 1; }

now() { echo "${EPOCHREALTIME:-$(date +%s)}"; }
elapsed() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.1f", end - start }'; }

command -v cargo >/dev/null || fail "cargo is required (https://rustup.rs)"

checks=(bans licenses sources)
case "${1:-}" in
    "") ;;
    advisories) checks=(advisories bans licenses sources) ;;
    *) echo "usage: $0 [advisories]" >&2; exit 2 ;;
esac

staging=""
cleanup() { [[ -z "$staging" ]] || rm -rf "$staging"; }
trap cleanup EXIT

if [[ ! -x "$cargo_deny" ]]; then
    say "building cargo-deny $CARGO_DENY_VERSION from crates.io into $install_root (once; minutes)"
    started="$(now)"
    mkdir -p "$tools_dir"
    # Build into a private root and rename it into place last, so an interrupted build never leaves
    # something that looks installed. --locked uses cargo-deny's own Cargo.lock, as released.
    staging="$(mktemp -d "$tools_dir/.staging.XXXXXX")"
    cargo install --locked --root "$staging" --target-dir "$staging/target" \
        "cargo-deny@$CARGO_DENY_VERSION" ||
        fail "cargo install cargo-deny@$CARGO_DENY_VERSION failed (output above)"
    rm -rf "$staging/target"
    # rename(2) refuses a non-empty target: if another run finished first, keep its copy.
    mv -T "$staging" "$install_root" 2>/dev/null || true
    say "cargo-deny $CARGO_DENY_VERSION installed in $(elapsed "$started") s"
fi

cd "$repo_root"
# --locked: judge the Cargo.lock that is committed, never a re-resolved one. bans, licenses and
# sources read only Cargo.lock and the crates' manifests, which any build has already downloaded
# (on a fresh clone, `cargo metadata` fetches them from crates.io first, as a build would).
say "cargo deny check ${checks[*]}"
exec "$cargo_deny" deny --locked check "${checks[@]}"
