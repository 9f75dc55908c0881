#pragma once
// One quantizer per format family behind one interface. quantize() picks the
// family, which fills dequantized/codes/scales/blocks; transforms and metrics are common.
#include "quant/quantizer.hpp"

namespace quantlens {

class QuantizerFamily {
public:
    virtual ~QuantizerFamily() = default;
    virtual bool handles(QuantFormat format) const = 0;
    virtual void quantize(const WeightMatrix& weights, const QuantSpec& spec, const QuantOptions& options,
                          QuantResult& result) const = 0;
    // Whether its quantizers read QuantOptions::importance (the ggml types).
    virtual bool uses_importance() const { return false; }
};

const QuantizerFamily& scaled_grid_family();   // int, fp8/6/4, nf4, log2, ternary, binary
const QuantizerFamily& microscaling_family();  // mx*, nvfp4
const QuantizerFamily& ggml_family();          // q8_0, q4_0, q4_1, q5_0, q5_1
const QuantizerFamily& cast_family();          // f16, bf16, f32

// Rounds a positive scale to how it is stored (f16, bf16: nearest; e8m0: up to a power of
// two, so that rounding never clips).
float stored_scale(float scale, ScaleStorage storage);

}  // namespace quantlens
