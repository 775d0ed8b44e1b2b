#!/usr/bin/env bash
# Everything CI checks: formatting, lints (warnings are errors), every test in
# the workspace, and the tuning scripts against fake /proc and /sys trees.
# Needs the Rust toolchain; the tuning tests install shellcheck with apt-get
# when it is missing (as root). Tests talk to loopback only and use fused or
# two-thread plans with sleeping waits.
set -euo pipefail
cd "$(dirname "$0")"
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
# The interoperability test reads our latency logs with Python's HdrHistogram.
python3 -c 'import hdrh' 2>/dev/null || python3 -m pip install --quiet hdrhistogram
cargo test --workspace --locked
echo "== tuning scripts"
bash tuning/tests/run.sh
