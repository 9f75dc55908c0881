// Runs onnxruntime on a model and on QuantLens's export of it with the same inputs and compares
// the first outputs: identical (--tolerance 0), or within a stated absolute tolerance with the
// same top-1 class in every row.
// Usage: node compare_models.js ONNXRUNTIME_NODE_DIR ORIGINAL.onnx EXPORTED.onnx INPUTS TOLERANCE
//   INPUTS: "cls:FILE.u8" (PaddleOCR direction-classifier lines, 48×192 grayscale bytes, each
//   normalised as PaddleOCR does: (x/255 − 0.5)/0.5 on three channels), or "random:SEED" (every
//   float input filled from a seeded generator, its symbolic dimensions taken as 1).
'use strict';
const fs = require('fs');
const [ortDir, originalPath, exportedPath, inputs, toleranceText] = process.argv.slice(2);
const ort = require(ortDir);
const tolerance = Number(toleranceText);

function random(seed) {  // mulberry32: the same inputs on every machine
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function feeds(session) {
  const [kind, argument] = inputs.split(/:(.*)/s);
  if (kind === 'cls') {
    const bytes = fs.readFileSync(argument);
    const lines = bytes.length / (48 * 192);
    const data = new Float32Array(lines * 3 * 48 * 192);
    for (let n = 0; n < lines; ++n)
      for (let c = 0; c < 3; ++c)
        for (let i = 0; i < 48 * 192; ++i)
          data[(n * 3 + c) * 48 * 192 + i] = (bytes[n * 48 * 192 + i] / 255 - 0.5) / 0.5;
    return {[session.inputNames[0]]: new ort.Tensor('float32', data, [lines, 3, 48, 192])};
  }
  const next = random(Number(argument));
  const out = {};
  for (const name of session.inputNames) {
    const meta = session.inputMetadata.find((m) => m.name === name);
    const shape = meta.shape.map((d) => (typeof d === 'number' ? d : 1));
    const count = shape.reduce((a, b) => a * b, 1);
    out[name] = new ort.Tensor('float32', Float32Array.from({length: count}, () => next() * 2 - 1), shape);
  }
  return out;
}

(async () => {
  const original = await ort.InferenceSession.create(originalPath);
  const exported = await ort.InferenceSession.create(exportedPath);
  const input = feeds(original);
  const a = (await original.run(input))[original.outputNames[0]];
  const b = (await exported.run(input))[exported.outputNames[0]];
  if (a.data.length !== b.data.length) throw new Error('the outputs differ in size');
  let worst = 0;
  for (let i = 0; i < a.data.length; ++i) worst = Math.max(worst, Math.abs(a.data[i] - b.data[i]));
  const columns = a.dims[a.dims.length - 1], rows = a.data.length / columns;
  let changed = 0;
  const argmax = (data, r) => {
    let best = 0;
    for (let c = 1; c < columns; ++c) if (data[r * columns + c] > data[r * columns + best]) best = c;
    return best;
  };
  const classes = [];
  for (let r = 0; r < rows; ++r) {
    classes.push(argmax(a.data, r));
    if (argmax(a.data, r) !== argmax(b.data, r)) ++changed;
  }
  const pass = worst <= tolerance && changed === 0;
  console.log(`${exportedPath}: max |difference| ${worst} (tolerance ${tolerance}), top-1 changed in ` +
              `${changed} of ${rows} rows (classes ${classes.join(' ')}) with onnxruntime ` +
              `${ort.env.versions.common}: ${pass ? 'same' : 'DIFFERENT'}`);
  process.exit(pass ? 0 : 1);
})().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
