#!/usr/bin/env bash
# Runs the fuzz targets (fuzz/fuzz_targets/TARGET.rs) on the stable toolchain:
#   scripts/fuzz.sh TARGET [N]      N executions of one target (default 1,000,000)
#   scripts/fuzz.sh all [N]         every target, one after the other
#   FUZZ_SECONDS=S scripts/fuzz.sh all   each target for S seconds instead
#   scripts/fuzz.sh --ci [S]        CI's bounded run: build every target once (unoptimised, with
#                                   debug assertions: a third of the optimised build's CPU), run
#                                   each for S seconds (default 10) from a corpus seeded from this
#                                   repository alone, with a fixed seed, print executions per
#                                   target, fail on any crash
# Installs cargo-fuzz if it is missing, seeds the corpus the first time (fuzz/seed-corpus.sh),
# and prints libFuzzer's final statistics (executions, exec/s). A crash (panic, failed property,
# 25 s hang) leaves its input in fuzz/artifacts/TARGET/ and fails the script; replay it with
#   cd fuzz && cargo fuzz run -s none TARGET artifacts/TARGET/crash-…
# Why this works on stable (cargo-fuzz with `-s none`, no nightly): fuzz/README.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"

targets=(github_webhook jira_webhook sarif repo_config codeowners ticket_render signature)
usage="usage: scripts/fuzz.sh TARGET|all [N] | --ci [SECONDS]  (targets: ${targets[*]})"
target="${1:?$usage}"
ci=false
profile=()
if [[ "$target" == --ci ]]; then
  ci=true
  seconds="${2:-10}"
  [[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "$usage" >&2; exit 2; }
  selected=("${targets[@]}")
  # Seeds from this repository only, so that every clone fuzzes from the same corpus.
  export SCANTIX_FIXTURES="${SCANTIX_FIXTURES:-none}"
  # The optimised instrumented build takes ~10 minutes of CPU (regorus, tokio, rustls and aws-lc
  # with one codegen unit), the unoptimised one ~4: CI's seconds go to running, and debug
  # assertions (overflow checks included) catch more per execution than they cost.
  profile=(--dev)
else
  runs="${2:-1000000}"
  if [[ "$target" == all ]]; then
    selected=("${targets[@]}")
  else
    selected=("$target")
  fi
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

# Per-target libFuzzer options (fuzz/README.md, "Input sizes"): the SARIF seeds are real scanner
# outputs of up to 254 KB, and libFuzzer would otherwise mutate inputs up to the largest seed's
# size; 64 KB keeps files with several runs and dozens of results while running ~10x faster.
target_options() {
  case "$1" in
    sarif) echo "-max_len=65536" ;;
    *) ;;
  esac
}

if $ci; then
  started=$SECONDS
  echo "== fuzz --ci: building every target"
  cargo fuzz build "${profile[@]}" -s "$sanitizer"
  built=$((SECONDS - started))
  echo "== fuzz --ci: built in ${built}s"
fi

summary=()
failed=()
for t in "${selected[@]}"; do
  [[ -d "corpus/$t" ]] || ./seed-corpus.sh "$t"
  if $ci; then
    # A fixed seed: a crash CI reports is one the same clone reproduces.
    limit=(-max_total_time="$seconds" -seed=1)
  elif [[ -n "${FUZZ_SECONDS:-}" ]]; then
    limit=(-max_total_time="$FUZZ_SECONDS")
  else
    limit=(-runs="$runs")
  fi
  # shellcheck disable=SC2207 # options are single words
  extra=($(target_options "$t"))
  log="${TMPDIR:-/tmp}/scantix-fuzz-$t.log"
  echo "== fuzz $t (${limit[*]} ${extra[*]})"
  # -timeout: an input that takes 25 s is a hang worth a report. libFuzzer exits non-zero on a
  # crash, a failed property (a panic aborts), a timeout or running out of memory.
  status=0
  cargo fuzz run "${profile[@]}" -s "$sanitizer" "$t" "corpus/$t" -- "${limit[@]}" "${extra[@]}" -timeout=25 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|==|SUMMARY|.*panicked)' "$log" || true
  executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  summary+=("$t ${executions:-?}")
  if [[ $status -ne 0 ]] || grep -qE 'ERROR: libFuzzer|SUMMARY: libFuzzer|deadly signal' "$log"; then
    echo "fuzz $t: crash found (exit $status); input in fuzz/artifacts/$t/ (log: $log)" >&2
    failed+=("$t")
    # Outside CI, stop at the first crash: it is the thing to look at.
    $ci || exit 1
  fi
done

if $ci; then
  echo "== fuzz --ci: executions per target (${seconds}s each), $((SECONDS - started))s in all"
  for line in "${summary[@]}"; do
    printf '  %-16s %s\n' ${line}
  done
  if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz --ci: crashes in ${failed[*]}" >&2
    exit 1
  fi
fi
