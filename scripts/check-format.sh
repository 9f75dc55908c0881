#!/usr/bin/env bash
# Fails, naming the files, when any C++ source in the tree differs from .clang-format's layout.
# Usage: scripts/check-format.sh [FILE ...]   (default: every tracked .cpp/.hpp/.h/.inc)
set -euo pipefail
cd "$(dirname "$0")/.."
if (($# == 0)); then
  mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.inc')
else
  files=("$@")
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" > /dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  echo "check-format: ${#bad[@]} of ${#files[@]} files differ from .clang-format (run clang-format -i on them):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
