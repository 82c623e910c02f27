#!/usr/bin/env bash
# Runs a fuzz target (fuzz/fuzz_targets/TARGET.rs) for N executions, on the stable toolchain:
#   scripts/fuzz.sh TARGET [N]      N defaults to 1,000,000
#   scripts/fuzz.sh all [N]         every target, one after the other
#   FUZZ_SECONDS=S scripts/fuzz.sh all   each target for S seconds instead (what CI would run)
# Installs cargo-fuzz if it is missing, seeds the corpus from the real fixtures the first time
# (fuzz/seed-corpus.sh), and prints libFuzzer's final line (executions, exec/s). A crash leaves
# its input in fuzz/artifacts/TARGET/ and fails the script; replay it with
#   cd fuzz && cargo fuzz run -s none TARGET artifacts/TARGET/crash-…
# Why this works on stable (cargo-fuzz with `-s none`, no nightly): fuzz/README.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"

targets=(github_webhook jira_webhook sarif repo_config codeowners ticket_render signature)
target="${1:?usage: scripts/fuzz.sh TARGET|all [N]  (targets: ${targets[*]})}"
runs="${2:-1000000}"
if [[ "$target" == all ]]; then
  selected=("${targets[@]}")
else
  selected=("$target")
fi

CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# FUZZ_SANITIZER=address builds with AddressSanitizer: `-Zsanitizer`, which stable rustc accepts
# only with RUSTC_BOOTSTRAP=1 (fuzz/README.md says why that is opt-in).
sanitizer="${FUZZ_SANITIZER:-none}"
if [[ "$sanitizer" != none ]]; then
  export RUSTC_BOOTSTRAP=1
fi

for t in "${selected[@]}"; do
  [[ -d "corpus/$t" ]] || ./seed-corpus.sh "$t"
  limit=(-runs="$runs")
  if [[ -n "${FUZZ_SECONDS:-}" ]]; then
    limit=(-max_total_time="$FUZZ_SECONDS")
  fi
  echo "== fuzz $t (${limit[*]})"
  # -timeout: an input that takes 25 s is a hang worth a report.
  cargo fuzz run -s "$sanitizer" "$t" "corpus/$t" -- "${limit[@]}" -timeout=25 -print_final_stats=1 \
    2>&1 | tee "/tmp/scantix-fuzz-$t.log" | grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|==|SUMMARY|.*panicked)' || true
  if grep -qE 'ERROR: libFuzzer|SUMMARY: libFuzzer|deadly signal' "/tmp/scantix-fuzz-$t.log"; then
    echo "fuzz $t: crash found; input in fuzz/artifacts/$t/ (log: /tmp/scantix-fuzz-$t.log)" >&2
    exit 1
  fi
done
