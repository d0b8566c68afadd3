#!/usr/bin/env bash
# Installs every tool the build and the test suites need, from the package registries only
# (crates.io, npm, Debian). Idempotent: each step checks first and skips what is already there,
# so a warm run costs a second. See ../shared/TOOLCHAIN.md for why each pin is what it is.
set -euo pipefail

cd "$(dirname "$0")/.."

WASM_PACK_VERSION=0.15.1
GECKODRIVER_VERSION=0.37.1
# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock exactly, or wasm-pack tries
# to download its own copy from outside the registries.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)

log() { printf '[install] %s\n' "$*"; }

want_browsers=${JOBSOCKET_BROWSERS:-chromium firefox}

# Outputs are captured before they are matched: `cmd | grep -q` under pipefail fails when grep
# exits at its match and `cmd` then dies of SIGPIPE, which reinstalled tools for nothing.
if [[ $'\n'"$(rustup target list --installed)"$'\n' != *$'\n'wasm32-unknown-unknown$'\n'* ]]; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

apt_packages=()
command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
command -v chromedriver >/dev/null 2>&1 || apt_packages+=(chromium-driver)
# Debian's Redis for the multi-instance tests (the reference server's --redis mode, the
# Socket.IO Redis adapter); the tests start their own on a free port, never the service.
command -v redis-server >/dev/null 2>&1 || apt_packages+=(redis-server)
if [[ " $want_browsers " == *" firefox "* ]]; then
  command -v firefox-esr >/dev/null 2>&1 || apt_packages+=(firefox-esr)
fi
if ((${#apt_packages[@]})); then
  log "apt-get install ${apt_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"

if [[ "$("$cargo_bin/wasm-bindgen" --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]]; then
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: its lock file names a webpki-roots the registry does not serve.
  cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [[ "$("$cargo_bin/wasm-pack" --version 2>/dev/null || true)" != "wasm-pack $WASM_PACK_VERSION" ]]; then
  log "cargo install wasm-pack $WASM_PACK_VERSION"
  cargo install -q --locked wasm-pack --version "$WASM_PACK_VERSION" --force
fi

if [[ " $want_browsers " == *" firefox "* ]]; then
  if [[ "$("$cargo_bin/geckodriver" --version 2>/dev/null || true)" != *"geckodriver $GECKODRIVER_VERSION"* ]]; then
    log "cargo install geckodriver $GECKODRIVER_VERSION"
    cargo install -q --locked geckodriver --version "$GECKODRIVER_VERSION" --force
  fi
fi

log "tools ready"
