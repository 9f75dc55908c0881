#!/usr/bin/env bash
# Every command that writes, tried against the user's data (issue "Nothing lost, nothing
# reached"): each must refuse, say why, exit non-zero and leave every byte where it was.
# Usage: output_guard.sh QUANTLENS_CLI SOURCE_DIR
set -uo pipefail
cli=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0

fingerprint() { (cd "$work" && find . -type f -print0 | sort -z | xargs -0 sha256sum; find . | sort) | sha256sum; }

# expect_refused DESCRIPTION PATTERN COMMAND...: non-zero exit, PATTERN on stderr, nothing changed.
expect_refused() {
  local description=$1 pattern=$2
  shift 2
  local before after
  before=$(fingerprint)
  if "$@" > "$work.out" 2> "$work.err"; then
    echo "FAIL: $description: exited 0"; failures=$((failures + 1)); return
  fi
  after=$(fingerprint)
  if ! grep -qE "$pattern" "$work.err"; then
    echo "FAIL: $description: stderr lacks /$pattern/:"; cat "$work.err"; failures=$((failures + 1)); return
  fi
  if [[ "$before" != "$after" ]]; then
    echo "FAIL: $description: files changed"; (cd "$work" && find . | sort); failures=$((failures + 1)); return
  fi
  passed=$((passed + 1))
}

expect_ok() {
  local description=$1
  shift
  if ! "$@" > "$work.out" 2> "$work.err"; then
    echo "FAIL: $description:"; cat "$work.err"; failures=$((failures + 1)); return 1
  fi
  passed=$((passed + 1))
}

cp -r "$src/samples/tiny-llama" "$work/llama"
cp "$src/samples/tiny-gpt2.gguf" "$work/in.gguf"
cp "$src/samples/digits-mlp.h5" "$work/mlp.h5"
cp "$src/tests/data/hostile/keras-external.h5" "$src/tests/data/hostile/kernel.bin" "$work/"
mkdir -p "$work/thesis" && echo "years of work" > "$work/thesis/thesis.txt"
echo "the user's own notes" > "$work/notes.txt"

expect_ok "a plan for the llama folder" "$cli" allocate "$work/llama" --budget 7.5bpw --candidate int4:g32:asym \
  --candidate int8:channel:sym --kind embedding=f16 --tie-fused --no-cache --out "$work/llama.plan.json"
expect_ok "a plan for the GGUF" "$cli" allocate "$work/in.gguf" --budget 6bpw --candidate q4_0 --candidate q8_0 \
  --no-cache --out "$work/gguf.plan.json"
expect_ok "a plan for the MLP" "$cli" allocate "$work/mlp.h5" --budget 6bpw --candidate int4:channel:asym \
  --candidate int8:channel:sym --no-cache --out "$work/mlp.plan.json"

# Folder exports over an existing folder: refused, the folder untouched, no temporary left.
expect_refused "packed export over the user's folder" "thesis: exists" \
  "$cli" export "$work/llama" --config "$work/llama.plan.json" --format safetensors-packed --out "$work/thesis"
expect_refused "fakequant export over the user's folder" "thesis: exists" \
  "$cli" export "$work/llama" --config "$work/llama.plan.json" --format fakequant --out "$work/thesis"
expect_refused "packed export over the user's folder, even with --force" "no QuantLens marker" \
  "$cli" export "$work/llama" --config "$work/llama.plan.json" --format safetensors-packed --out "$work/thesis" --force
expect_refused "packed export into the input folder" "lies inside the input folder" \
  "$cli" export "$work/llama" --config "$work/llama.plan.json" --format safetensors-packed --out "$work/llama/packed"
expect_refused "packed export to a folder holding the input" "holds the input" \
  "$cli" export "$work/llama" --config "$work/llama.plan.json" --format safetensors-packed --out "$work" --force

# Every command that writes a file, aimed at its own input.
expect_refused "tensor types over the input GGUF" "is the input" \
  "$cli" export "$work/in.gguf" --config "$work/gguf.plan.json" --format llama-tensor-types --out "$work/in.gguf"
expect_refused "gptqmodel config over the folder's config.json" "lies inside the input folder" \
  "$cli" export "$work/llama" --config "$work/llama.plan.json" --format gptqmodel --out "$work/llama/config.json"
expect_refused "export over its own plan" "is the input" \
  "$cli" export "$work/in.gguf" --config "$work/gguf.plan.json" --format aimet --out "$work/gguf.plan.json" --force
expect_refused "analyze over the input" "is the input" \
  "$cli" analyze "$work/in.gguf" --json --no-cache --out "$work/in.gguf"
expect_refused "allocate over the input" "is the input" \
  "$cli" allocate "$work/in.gguf" --budget 6bpw --candidate q4_0 --candidate q8_0 --no-cache --out "$work/in.gguf"
expect_refused "allocate's tensor types over the input" "is the input" \
  "$cli" allocate "$work/in.gguf" --budget 6bpw --candidate q4_0 --candidate q8_0 --no-cache \
  --llama-tensor-types "$work/in.gguf"
expect_refused "analyze over the user's file" "notes.txt: exists" \
  "$cli" analyze "$work/in.gguf" --csv --no-cache --out "$work/notes.txt"
expect_refused "analyze over the user's file with --force" "no QuantLens marker" \
  "$cli" analyze "$work/in.gguf" --csv --no-cache --out "$work/notes.txt" --force
ln -s "$work/in.gguf" "$work/alias.gguf"
expect_refused "export through a symbolic link to the input" "is the input" \
  "$cli" export "$work/in.gguf" --config "$work/gguf.plan.json" --format gguf --out "$work/alias.gguf" --force
ln "$work/in.gguf" "$work/hard.gguf"
expect_refused "export over a hard link to the input" "hard link to an input" \
  "$cli" export "$work/in.gguf" --config "$work/gguf.plan.json" --format gguf --out "$work/hard.gguf" --force
rm "$work/alias.gguf" "$work/hard.gguf"

# A Keras file whose kernel lives in an external file: refused before anything is read or written.
expect_refused "fakequant of a Keras file with external storage" "external file" \
  "$cli" export "$work/keras-external.h5" --config "$work/mlp.plan.json" --format fakequant --out "$work/never.h5"

# Our own outputs: replaced with --force, refused without it.
expect_ok "a packed export" "$cli" export "$work/llama" --config "$work/llama.plan.json" --format safetensors-packed \
  --out "$work/packed"
expect_refused "the same export again without --force" "pass --force" \
  "$cli" export "$work/llama" --config "$work/llama.plan.json" --format safetensors-packed --out "$work/packed"
expect_ok "the same export with --force" "$cli" export "$work/llama" --config "$work/llama.plan.json" \
  --format safetensors-packed --out "$work/packed" --force
expect_ok "a GGUF export" "$cli" export "$work/in.gguf" --config "$work/gguf.plan.json" --format gguf --out "$work/out.gguf"
expect_ok "the GGUF export again with --force" "$cli" export "$work/in.gguf" --config "$work/gguf.plan.json" \
  --format gguf --out "$work/out.gguf" --force
expect_ok "a plan replaced with --force" "$cli" allocate "$work/in.gguf" --budget 6bpw --candidate q4_0 \
  --candidate q8_0 --no-cache --out "$work/gguf.plan.json" --force

# A temporary left by a killed run is removed by the next write to the same target, with a note.
mkdir "$work/.next.gguf.quantlens-tmp-999999999-1"
expect_ok "an export beside a stale temporary" "$cli" export "$work/in.gguf" --config "$work/gguf.plan.json" \
  --format gguf --out "$work/next.gguf"
grep -q "removed .*quantlens-tmp-999999999-1, a temporary left by an interrupted QuantLens run" "$work.err" \
  || { echo "FAIL: no note about the stale temporary"; cat "$work.err"; failures=$((failures + 1)); }
[[ ! -e "$work/.next.gguf.quantlens-tmp-999999999-1" ]] || { echo "FAIL: stale temporary kept"; failures=$((failures + 1)); }
leftovers=$(find "$work" -name '*quantlens-tmp*' | wc -l)
[[ $leftovers -eq 0 ]] || { echo "FAIL: $leftovers temporaries left"; failures=$((failures + 1)); }
[[ "$(cat "$work/thesis/thesis.txt")" == "years of work" ]] || { echo "FAIL: thesis.txt changed"; failures=$((failures + 1)); }
cmp -s "$work/kernel.bin" "$src/tests/data/hostile/kernel.bin" || { echo "FAIL: kernel.bin changed"; failures=$((failures + 1)); }

rm -f "$work.out" "$work.err"
echo "output guard: $passed passed, $failures failed"
((failures == 0))
