#!/usr/bin/env bash
# Installs what is missing, builds QuantLens and opens the bundled sample model in the
# desktop application. Without a display it says so and prints the CLI report instead.
# Usage: scripts/run-app.sh [MODEL]   (default: samples/tiny-gpt2)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-samples/tiny-gpt2}

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j "${JOBS:-$(nproc)}" --target quantlens quantlens-cli

if [[ -n "${DISPLAY:-}" || -n "${WAYLAND_DISPLAY:-}" ]]; then
  exec build/app/gui/quantlens "$model"
fi
echo "No display found (DISPLAY and WAYLAND_DISPLAY are unset), so the window cannot open."
echo "Here is the command-line report of $model instead; run this script from a desktop session for the GUI."
echo
exec build/app/cli/quantlens-cli inspect "$model"
