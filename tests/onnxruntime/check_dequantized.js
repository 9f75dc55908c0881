// Runs onnxruntime (the onnxruntime-node package's CPU library) on a quantized ONNX sample and
// checks that every weight its graph makes an output holds exactly the dequantized values of the
// sample's golden JSON (samples/onnx_quantized_samples.py): the NumPy formulas QuantLens's reader
// is tested against are onnxruntime's own.
// Usage: node check_dequantized.js ONNXRUNTIME_NODE_DIR MODEL.onnx GOLDEN.json
'use strict';
const fs = require('fs');
const [ortDir, modelPath, goldenPath] = process.argv.slice(2);
const ort = require(ortDir);

const arrays = {float32: Float32Array, uint8: Uint8Array, int64: BigInt64Array};

function feed(spec) {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const data = new arrays[spec.type](count);
  const one = spec.type === 'int64' ? 1n : 1;
  if (spec.identity)
    for (let i = 0; i < spec.shape[0]; ++i) data[i * spec.shape[1] + i] = one;
  else if (spec.type === 'int64')
    data.fill(1n);
  return new ort.Tensor(spec.type, data, spec.shape);
}

function halfToFloat(bits) {
  const sign = bits & 0x8000 ? -1 : 1, exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

(async () => {
  const golden = JSON.parse(fs.readFileSync(goldenPath, 'utf8'));
  const session = await ort.InferenceSession.create(modelPath);
  const feeds = {};
  for (const [name, spec] of Object.entries(golden.inputs)) feeds[name] = feed(spec);
  const results = await session.run(feeds);
  let checked = 0, failures = 0;
  for (const [name, tensor] of Object.entries(golden.tensors)) {
    if (!tensor.output) continue;
    const out = results[tensor.output];
    const values = out.type === 'float16' ? Array.from(out.data, halfToFloat) : Array.from(out.data);
    const [rows, columns] = tensor.shape.length === 2 ? tensor.shape : [1, tensor.values.length];
    for (let i = 0; i < tensor.values.length; ++i) {
      // A transposed weight ([N, K], MatMulNBits) comes out as Y = I·Wᵀ, [K, N].
      const at = tensor.transpose ? (i % columns) * rows + Math.floor(i / columns) : i;
      if (Math.fround(values[at]) !== Math.fround(tensor.values[i])) {
        if (failures++ < 10)
          console.error(`${name}[${i}]: onnxruntime ${values[at]}, golden ${tensor.values[i]}`);
      }
    }
    ++checked;
  }
  console.log(`${modelPath}: ${checked} weights checked against onnxruntime ${ort.env.versions.common}, ` +
              `${failures} values differ`);
  process.exit(failures === 0 && checked > 0 ? 0 : 1);
})().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
