#!/usr/bin/env bash
# Everything CI checks: formatting, lints (warnings are errors) and every test
# in the workspace. Needs only the Rust toolchain; tests talk to loopback only
# and use fused or two-thread plans with sleeping waits.
set -euo pipefail
cd "$(dirname "$0")"
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
