#!/usr/bin/env bash
# Installs what is missing, builds QuantLens and opens a bundled sample model in the desktop
# application. Without a display it says so and prints the CLI report instead.
# Usage: scripts/run-app.sh [MODEL]
# The default is the trained byte-level LLaMA (samples/text-llama) with its held-out text
# preselected as calibration data, so the Sensitivity view's model metrics run with one click.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-samples/text-llama}
calib=()
[[ $# -eq 0 ]] && calib=(--calib samples/text-calib.npz)

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j "${JOBS:-$(nproc)}" --target quantlens quantlens-cli

if [[ -n "${DISPLAY:-}" || -n "${WAYLAND_DISPLAY:-}" ]]; then
  exec build/app/gui/quantlens "${calib[@]}" "$model"
fi
echo "No display found (DISPLAY and WAYLAND_DISPLAY are unset), so the window cannot open."
echo "Here is the command-line report of $model instead; run this script from a desktop session for the GUI."
echo
exec build/app/cli/quantlens-cli inspect "$model"
