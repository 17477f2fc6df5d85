#!/usr/bin/env bash
# Install what the test suite needs, and skip whatever is already there, so it
# is cheap to run before every test run (scripts/test.sh does) and safe to run
# twice. Prints one line per item: "install" or "skip".
#
#   * Rust: the wasm32-unknown-unknown target, the rustfmt and clippy components.
#   * Python: a virtualenv at .venv with interop/requirements.txt (the official
#     AWS Encryption SDK for Python with its Material Providers Library, pytest)
#     and, where it exists, proxy/tests-py/requirements.txt, resolved together.
#     A stamp in the venv records the hash of the requirements it was built from.
#   * Hooks, below, for the npm and browser installs that come later.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

say() { printf 'setup-test-deps: %s\n' "$*"; }

# --- Rust --------------------------------------------------------------------
setup_rust() {
  if ! command -v rustup >/dev/null 2>&1; then
    say "skip   rustup is not installed; using the cargo on PATH as it is"
    return 0
  fi
  local installed
  installed=$(rustup target list --installed)
  if grep -qx 'wasm32-unknown-unknown' <<<"$installed"; then
    say "skip   rust target wasm32-unknown-unknown (installed)"
  else
    say "install rust target wasm32-unknown-unknown"
    # Not fatal: nothing in the Rust or Python tests needs it, and the package
    # tests that do will say so themselves.
    rustup target add wasm32-unknown-unknown ||
      say "WARNING: could not add wasm32-unknown-unknown; wasm builds will fail"
  fi
  local components comp
  components=$(rustup component list --installed)
  for comp in rustfmt clippy; do
    if grep -q "^${comp}\b" <<<"$components"; then
      say "skip   rust component $comp (installed)"
    else
      say "install rust component $comp"
      rustup component add "$comp"
    fi
  done
}

# --- Python ------------------------------------------------------------------
VENV=$ROOT/.venv
REQS=(interop/requirements.txt)
[ -f proxy/tests-py/requirements.txt ] && REQS+=(proxy/tests-py/requirements.txt)

pick_python() {
  local py
  for py in python3.11 python3.12 python3.13 python3; do
    if command -v "$py" >/dev/null 2>&1 &&
      "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$py"
      return 0
    fi
  done
  return 1
}

setup_python() {
  local want have=""
  want=$(cat "${REQS[@]}" | sha256sum | cut -d' ' -f1)
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    have=$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)
  elif [ -e "$VENV" ]; then
    say "install python venv (the one at .venv is broken; making it anew)"
    rm -rf "$VENV"
  fi
  if [ -n "$have" ] && [ "$have" = "$want" ]; then
    say "skip   python venv .venv with ${REQS[*]} (up to date)"
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    local py
    py=$(pick_python) || { say "ERROR: Python 3.11 or newer is needed for the interop tests"; return 1; }
    say "install python venv .venv ($("$py" --version 2>&1))"
    "$py" -m venv "$VENV"
  fi
  say "install python packages from ${REQS[*]} into .venv"
  local args=() r
  for r in "${REQS[@]}"; do args+=(-r "$r"); done
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q "${args[@]}"
  echo "$want" >"$VENV/.requirements.sha256"
}

# --- Hooks for later installs --------------------------------------------------
# HOOK(npm): install the JavaScript/TypeScript test dependencies (npm ci in the
# package folders) here. Keep it idempotent: skip when node_modules is current.
setup_npm() {
  # The npm packages of pkg-tests/ and www/tests/ are installed by their run.sh
  # (npm install into their own folders, skipped when present); the wasm build
  # tools (wasm-bindgen-cli at the Cargo.lock version, binaryen) by
  # scripts/build-wasm.sh. Here only Node itself is checked.
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    say "skip   node $(node --version) and npm (installed)"
  else
    say "install nodejs and npm (Debian)"
    apt_install nodejs npm
  fi
}

# HOOK(browser): install Debian's chromium (and playwright-core through npm)
# for the browser tests here. Keep it idempotent: skip when /usr/bin/chromium exists.
setup_browser() {
  # Debian's Chromium for Playwright (playwright-core drives /usr/bin/chromium;
  # test tools cannot download browsers here).
  if [ -x /usr/bin/chromium ]; then
    say "skip   chromium ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
  else
    say "install chromium chromium-driver (Debian)"
    apt_install chromium chromium-driver
  fi
  # chromedriver drives Chromium for wasm-bindgen-test-runner (scripts/wasm-test.sh); it comes
  # with the same Debian version as chromium, so the two always match.
  if [ -x /usr/bin/chromedriver ]; then
    say "skip   chromium-driver ($(/usr/bin/chromedriver --version 2>/dev/null | head -1))"
  else
    say "install chromium-driver (Debian)"
    apt_install chromium-driver
  fi
}

APT_UPDATED=
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    say "ERROR: apt-get not found; install $* by hand"
    return 1
  fi
  local sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  if [ -z "$APT_UPDATED" ]; then
    $sudo apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}

setup_rust
setup_python
setup_npm
setup_browser
say "done"
