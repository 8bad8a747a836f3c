#!/usr/bin/env bash
# Compile time of `#[derive(ApiError)]` on a 100-variant enum, with rebuff's
# `openapi` feature off and on, side by side.
#
# Usage: benches/compare/derive_openapi.sh [RUNS]   (default 5)
#
# Generates a tiny crate (under $TMPDIR/rebuff-derive-openapi) holding one
# enum of 100 variants: a third unit variants, a third with a `String` and
# a `u32` field, a third with a `#[api(retry_after)]` delay and a skipped
# field; statuses spread over 400..=503. Its dependencies are built once per
# feature set first; each run then touches the crate and times
# `cargo build` of it alone (debug profile), so the figures are the
# derive's expansion plus compiling what it expands to. Prints the median
# of each and the ratio. Nothing is written to the repository.
set -euo pipefail
top=$(git rev-parse --show-toplevel)
runs=${1:-5}
work=${TMPDIR:-/tmp}/rebuff-derive-openapi
rm -rf "$work/src"
mkdir -p "$work/src"
cat > "$work/Cargo.toml" <<TOML
[package]
name = "derive100"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
rebuff = { path = "$top/runtime", default-features = false }
thiserror = "2"

[features]
openapi = ["rebuff/openapi"]

[workspace]
TOML
cp "$top/Cargo.lock" "$work/Cargo.lock"
statuses=(400 401 403 404 409 410 413 415 422 429 500 502 503)
{
    echo '//! 100 variants, generated.'
    echo '#[derive(Debug, thiserror::Error, rebuff::ApiError)]'
    echo '#[api(code_case = "SCREAMING_SNAKE_CASE", rename_all = "camelCase")]'
    echo 'pub enum Errors {'
    for i in $(seq 0 99); do
        status=${statuses[$((i % ${#statuses[@]}))]}
        case $((i % 3)) in
            0) echo "    #[error(\"e$i\")] #[api(status = $status, message = \"Error $i\")] E$i,";;
            1) echo "    #[error(\"e$i\")] #[api(status = $status, message = \"Error $i on {field_name}\")] E$i { field_name: String, count: u32 },";;
            2) echo "    #[error(\"e$i\")] #[api(status = $status)] E$i { #[api(retry_after)] retry_after: u64, #[api(skip)] internal: String },";;
        esac
    done
    echo '}'
} > "$work/src/lib.rs"

export CARGO_TARGET_DIR="$work/target"
cd "$work"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_build() { # $@: extra cargo args
    cargo build -q "$@" # dependencies, and a first build of the crate
    for _ in $(seq "$runs"); do
        touch src/lib.rs
        local start end
        start=$(date +%s.%N)
        cargo build -q "$@"
        end=$(date +%s.%N)
        echo "$end - $start" | bc
    done | median
}
off=$(time_build)
on=$(time_build --features openapi)
printf 'derive on 100 variants, median of %s `cargo build` runs of the crate alone:\n' "$runs"
printf '  openapi off: %.2f s\n  openapi on:  %.2f s\n  ratio:       %.2fx\n' "$off" "$on" "$(echo "$on / $off" | bc -l)"
