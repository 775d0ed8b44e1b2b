#!/usr/bin/env bash
# The PostgreSQL tests once more, against a server that is already running
# and named by DATABASE_URL, as an operator's or CI's server would be (the
# normal test run starts a throwaway server per test instead). Starts one
# server for the purpose when DATABASE_URL is unset, and stops it after.
# The tests that stop the server under the drain start a private one
# either way, so they are not repeated here.
set -euo pipefail
cd "$(dirname "$0")/../.."
# `--workspace` with the test targets named, not `-p`: cargo resolves features
# for the packages selected, so `-p genesis-drain` or `-p genesis-cli` alone
# builds serde, libc, tokio and everything above them a second (and third)
# time with other features, where the workspace's build from `cargo test
# --workspace` is reused as it is.
run_tests() {
    cargo test --locked --workspace --test drain_resume --test drain_archive
    cargo test --locked --workspace --test drain_cli -- run_drains_its_journal_into_postgres archive_waits_for_the_drain
}
if [ -n "${DATABASE_URL:-}" ]; then
    run_tests
    exit 0
fi
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
root="$(mktemp -d /tmp/genesis-pg-external.XXXXXX)"
port=$((20000 + RANDOM % 20000))
as_postgres=()
if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$root"
    as_postgres=(runuser -u postgres --)
fi
stop() {
    "${as_postgres[@]}" "$bin/pg_ctl" -D "$root/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$root"
}
trap stop EXIT
"${as_postgres[@]}" "$bin/initdb" -D "$root/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
"${as_postgres[@]}" "$bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 60 \
    -o "-p $port -k $root -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres" run_tests
