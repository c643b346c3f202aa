#!/usr/bin/env bash
# Makes sure Debian's `chromium` is installed, for the model-card browser test
# (test/e2e/card-chromium.test.ts runs this script itself when the browser is missing, so no
# manual install is ever needed). Idempotent: does nothing when the browser is already there.
# Installs with apt-get as root, or through `sudo -n` (never prompts: CI has no stdin).
# KILN_CHROMIUM may name another binary (then nothing is installed).
# Exit status: 0 the browser is there; 1 it is missing and cannot be installed here (the last
# line of stderr says why, and the test quotes it as its skip reason).
set -euo pipefail

bin="${KILN_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$bin" ]; then
  echo "ensure-chromium: $("$bin" --version 2>/dev/null || echo "$bin") present"
  exit 0
fi
if [ -n "${KILN_CHROMIUM:-}" ]; then
  echo "ensure-chromium: KILN_CHROMIUM=$KILN_CHROMIUM is not an executable file" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: /usr/bin/chromium is missing and apt-get is not available (not Debian/Ubuntu); install Chromium and set KILN_CHROMIUM to its path" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "ensure-chromium: /usr/bin/chromium is missing and this user cannot run apt-get (not root, no password-less sudo); run: sudo apt-get install -y chromium" >&2
  exit 1
fi
echo "ensure-chromium: installing Debian chromium (apt-get)"
export DEBIAN_FRONTEND=noninteractive
if ! ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null; then
  echo "ensure-chromium: apt-get update failed (no network or no package mirror?)" >&2
  exit 1
fi
if ! ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium </dev/null; then
  echo "ensure-chromium: apt-get install chromium failed (package not in the configured mirrors?)" >&2
  exit 1
fi
if [ ! -x "$bin" ]; then
  echo "ensure-chromium: apt-get finished but $bin is still missing" >&2
  exit 1
fi
"$bin" --version
