#include "tensor/dtype.hpp"

#include <stdexcept>

namespace quantlens {

namespace {
// K-quant sizes: super-blocks of 256 (ggml-common.h: block_q2_K .. block_q8_K).
const std::vector<DTypeInfo> kDTypes = {
    {DType::F64, "F64", 1, 8, true, false},
    {DType::F32, "F32", 1, 4, true, false},
    {DType::F16, "F16", 1, 2, true, false},
    {DType::BF16, "BF16", 1, 2, true, false},
    {DType::F8_E4M3, "F8_E4M3", 1, 1, true, false},
    {DType::F8_E5M2, "F8_E5M2", 1, 1, true, false},
    {DType::I64, "I64", 1, 8, false, false},
    {DType::I32, "I32", 1, 4, false, false},
    {DType::I16, "I16", 1, 2, false, false},
    {DType::I8, "I8", 1, 1, false, false},
    {DType::U64, "U64", 1, 8, false, false},
    {DType::U32, "U32", 1, 4, false, false},
    {DType::U16, "U16", 1, 2, false, false},
    {DType::U8, "U8", 1, 1, false, false},
    {DType::BOOL, "BOOL", 1, 1, false, false},
    {DType::Q4_0, "Q4_0", 32, 18, false, true},
    {DType::Q4_1, "Q4_1", 32, 20, false, true},
    {DType::Q5_0, "Q5_0", 32, 22, false, true},
    {DType::Q5_1, "Q5_1", 32, 24, false, true},
    {DType::Q8_0, "Q8_0", 32, 34, false, true},
    {DType::Q8_1, "Q8_1", 32, 36, false, true},
    {DType::Q2_K, "Q2_K", 256, 84, false, true},
    {DType::Q3_K, "Q3_K", 256, 110, false, true},
    {DType::Q4_K, "Q4_K", 256, 144, false, true},
    {DType::Q5_K, "Q5_K", 256, 176, false, true},
    {DType::Q6_K, "Q6_K", 256, 210, false, true},
    {DType::Q8_K, "Q8_K", 256, 292, false, true},
    // i-quants, ternary and FP4 types (ggml-common.h: block_iq2_xxs .. block_q2_0)
    {DType::IQ2_XXS, "IQ2_XXS", 256, 66, false, true},
    {DType::IQ2_XS, "IQ2_XS", 256, 74, false, true},
    {DType::IQ2_S, "IQ2_S", 256, 82, false, true},
    {DType::IQ3_XXS, "IQ3_XXS", 256, 98, false, true},
    {DType::IQ3_S, "IQ3_S", 256, 110, false, true},
    {DType::IQ1_S, "IQ1_S", 256, 50, false, true},
    {DType::IQ1_M, "IQ1_M", 256, 56, false, true},
    {DType::IQ4_NL, "IQ4_NL", 32, 18, false, true},
    {DType::IQ4_XS, "IQ4_XS", 256, 136, false, true},
    {DType::TQ1_0, "TQ1_0", 256, 54, false, true},
    {DType::TQ2_0, "TQ2_0", 256, 66, false, true},
    {DType::MXFP4, "MXFP4", 32, 17, false, true},
    {DType::NVFP4, "NVFP4", 64, 36, false, true},
    {DType::Q1_0, "Q1_0", 128, 18, false, true},
    {DType::Q2_0, "Q2_0", 64, 18, false, true},
    {DType::F8_E4M3FNUZ, "F8_E4M3FNUZ", 1, 1, true, false},
    {DType::F8_E5M2FNUZ, "F8_E5M2FNUZ", 1, 1, true, false},
    {DType::I4, "I4", 2, 1, false, false},  // two per byte; storage_bytes rounds an odd count up
    {DType::U4, "U4", 2, 1, false, false},
    {DType::Unknown, "unknown", 1, 0, false, false},  // no size: the file's layout gives it
};
}  // namespace

const std::vector<DTypeInfo>& all_dtypes() {
    return kDTypes;
}

const DTypeInfo& dtype_info(DType type) {
    for (const auto& info : kDTypes)
        if (info.type == type)
            return info;
    throw std::logic_error("dtype_info: unknown DType");
}

std::string_view dtype_name(DType type) {
    return dtype_info(type).name;
}

std::optional<DType> dtype_from_name(std::string_view name) {
    for (const auto& info : kDTypes)
        if (info.name == name)
            return info.type;
    return std::nullopt;
}

std::optional<std::uint64_t> storage_bytes(DType type, std::uint64_t elements) {
    const auto& info = dtype_info(type);
    if (type == DType::I4 || type == DType::U4)  // ONNX pads an odd count to a whole byte
        return elements / 2 + elements % 2;
    if (elements % info.block_elements != 0)
        return std::nullopt;
    std::uint64_t blocks = elements / info.block_elements;
    std::uint64_t bytes = 0;
    if (__builtin_mul_overflow(blocks, std::uint64_t{info.block_bytes}, &bytes))
        return std::nullopt;
    return bytes;
}

std::optional<std::uint64_t> element_count(const std::vector<std::int64_t>& shape) {
    std::uint64_t count = 1;
    for (auto dim : shape) {
        if (dim < 0)
            return std::nullopt;
        if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(dim), &count))
            return std::nullopt;
    }
    return count;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
    std::string text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i)
            text += ", ";
        text += std::to_string(shape[i]);
    }
    return text + "]";
}

}  // namespace quantlens
