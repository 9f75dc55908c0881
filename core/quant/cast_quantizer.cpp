// f16 / bf16 casts (round to nearest even) and f32 (lossless, the reference point).
#include "quant/quantizer_family.hpp"
#include "tensor/convert.hpp"

namespace quantlens {

namespace {

class CastFamily final : public QuantizerFamily {
public:
    bool handles(QuantFormat f) const override {
        return f == QuantFormat::F16 || f == QuantFormat::BF16 || f == QuantFormat::F32;
    }
    void quantize(const WeightMatrix& w, const QuantSpec& spec, const QuantOptions&,
                  QuantResult& out) const override {
        out.codes.clear();
        out.dequantized.resize(w.values.size());
        for (std::size_t i = 0; i < w.values.size(); ++i) {
            const float x = w.values[i];
            out.dequantized[i] = spec.format == QuantFormat::F16    ? f16_to_f32(f32_to_f16(x))
                                 : spec.format == QuantFormat::BF16 ? bf16_to_f32(f32_to_bf16(x))
                                                                    : x;
        }
    }
};

}  // namespace

const QuantizerFamily& cast_family() {
    static const CastFamily family;
    return family;
}

}  // namespace quantlens
