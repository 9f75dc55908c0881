// The ggml block decoders and quantizers on arbitrary bytes: the first byte picks a block type,
// the rest are its blocks (random scales: NaN, inf, subnormal; codes and grid indices out of any
// quantizer's range). Decoding must never read past the blocks; the decoded values (NaN and inf
// included), and the raw bytes read as floats, then go through every quantizer QuantLens
// writes, with and without importance weights, which must not trip the sanitizers either.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "quant/ggml_iquants.hpp"
#include "quant/ggml_quantizer.hpp"
#include "tensor/dtype.hpp"
#include "tensor/ggml_blocks.hpp"
#include "util/error.hpp"

namespace {

constexpr quantlens::DType kDecoded[] = {
    quantlens::DType::Q4_0,    quantlens::DType::Q4_1,   quantlens::DType::Q5_0,  quantlens::DType::Q5_1,
    quantlens::DType::Q8_0,    quantlens::DType::Q8_1,   quantlens::DType::Q2_K,  quantlens::DType::Q3_K,
    quantlens::DType::Q4_K,    quantlens::DType::Q5_K,   quantlens::DType::Q6_K,  quantlens::DType::Q8_K,
    quantlens::DType::IQ4_NL,  quantlens::DType::IQ4_XS, quantlens::DType::TQ1_0, quantlens::DType::TQ2_0,
    quantlens::DType::MXFP4,   quantlens::DType::NVFP4,  quantlens::DType::Q1_0,  quantlens::DType::Q2_0,
    quantlens::DType::IQ2_XXS, quantlens::DType::IQ2_XS, quantlens::DType::IQ2_S, quantlens::DType::IQ3_XXS,
    quantlens::DType::IQ3_S,   quantlens::DType::IQ1_S,  quantlens::DType::IQ1_M};

constexpr quantlens::DType kWritten[] = {
    quantlens::DType::Q4_0,  quantlens::DType::Q4_1,    quantlens::DType::Q5_0,    quantlens::DType::Q5_1,
    quantlens::DType::Q8_0,  quantlens::DType::Q2_K,    quantlens::DType::Q3_K,    quantlens::DType::Q4_K,
    quantlens::DType::Q5_K,  quantlens::DType::Q6_K,    quantlens::DType::IQ4_NL,  quantlens::DType::IQ4_XS,
    quantlens::DType::TQ1_0, quantlens::DType::TQ2_0,   quantlens::DType::IQ2_XXS, quantlens::DType::IQ2_XS,
    quantlens::DType::IQ2_S, quantlens::DType::IQ3_XXS, quantlens::DType::IQ3_S,   quantlens::DType::IQ1_S,
    quantlens::DType::IQ1_M};

// The grid i-quants refuse what ggml aborts on (no importance where it needs it; non-finite
// values; errors that overflow): a refusal is an answer, anything else a finding.
template <class Quantize>
void allowing_refusal(quantlens::DType type, Quantize quantize) {
    try {
        quantize();
    } catch (const quantlens::Error&) {
        if (!quantlens::ggml::is_grid_iquant(type))
            throw;
    } catch (const std::invalid_argument&) {
        if (!quantlens::ggml::requires_importance(type))
            throw;
    }
}

void quantize_all(const std::vector<float>& values, std::uint8_t selector) {
    const std::size_t n = values.size() / 256 * 256;
    if (n == 0)
        return;
    const auto type = kWritten[selector % std::size(kWritten)];
    const auto& info = quantlens::dtype_info(type);
    std::vector<std::uint8_t> out(n / info.block_elements * info.block_bytes);
    std::vector<float> importance(256);
    for (std::size_t i = 0; i < 256; ++i)
        importance[i] = std::fabs(values[i]);
    allowing_refusal(type,
                     [&] { quantlens::quantize_ggml_rows(type, std::span(values).first(n), 256, {}, out); });
    allowing_refusal(
        type, [&] { quantlens::quantize_ggml_rows(type, std::span(values).first(n), 256, importance, out); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2)
        return 0;
    const auto type = kDecoded[data[0] % std::size(kDecoded)];
    const auto& info = quantlens::dtype_info(type);
    const std::size_t blocks = (size - 1) / info.block_bytes;
    std::vector<float> values(blocks * info.block_elements);
    if (blocks > 0)
        quantlens::dequantize_blocks(
            type, {reinterpret_cast<const std::byte*>(data + 1), blocks * info.block_bytes}, values);
    quantize_all(values, data[0] / std::size(kDecoded));
    std::vector<float> raw((size - 1) / sizeof(float));
    if (!raw.empty())  // memcpy's pointers must not be null, even for no bytes
        std::memcpy(raw.data(), data + 1, raw.size() * sizeof(float));
    quantize_all(raw, data[0]);
    return 0;
}
