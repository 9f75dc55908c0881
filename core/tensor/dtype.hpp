#pragma once
// Element types QuantLens reads and writes. Block types (ggml) store `block_elements`
// values in `block_bytes` bytes; every other type is one element per `block_bytes`.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quantlens {

enum class DType : std::uint8_t {
    F64,
    F32,
    F16,
    BF16,
    F8_E4M3,
    F8_E5M2,
    I64,
    I32,
    I16,
    I8,
    U64,
    U32,
    U16,
    U8,
    BOOL,
    // ggml block types (llama.cpp ggml-common.h)
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
    IQ2_XXS,
    IQ2_XS,
    IQ2_S,
    IQ3_XXS,
    IQ3_S,
    IQ1_S,
    IQ1_M,
    IQ4_NL,
    IQ4_XS,
    TQ1_0,
    TQ2_0,
    MXFP4,
    NVFP4,
    Q1_0,
    Q2_0,
    // ONNX's other element types (onnx.proto TensorProto.DataType): the FNUZ float8 variants (no
    // infinities, one NaN at 0x80, no negative zero; exponent bias 8 and 16), and 4-bit integers
    // packed two to a byte, the first element in the low nibble, an odd count padded.
    F8_E4M3FNUZ,
    F8_E5M2FNUZ,
    I4,
    U4,
    // A type the file names that QuantLens does not know (a ggml type id from a newer llama.cpp):
    // the tensor is listed (TensorInfo::unknown_type says which) but its values cannot be read.
    Unknown,
};

struct DTypeInfo {
    DType type;
    std::string_view name;  // as safetensors spells it; ggml names for block types
    std::uint32_t block_elements;
    std::uint32_t block_bytes;
    bool is_float;  // decodes to a real number without a block scale
    bool is_block;
};

const DTypeInfo& dtype_info(DType type);
// The types only ONNX files hold (FNUZ float8, packed 4-bit): no other reader takes their names
// and no writer writes them.
inline bool onnx_only(DType type) {
    return type == DType::F8_E4M3FNUZ || type == DType::F8_E5M2FNUZ || type == DType::I4 || type == DType::U4;
}
std::string_view dtype_name(DType type);
std::optional<DType> dtype_from_name(std::string_view name);
const std::vector<DTypeInfo>& all_dtypes();

// Bytes needed for `elements` values, or nullopt when the count is not a whole number
// of blocks or the byte count overflows 64 bits.
std::optional<std::uint64_t> storage_bytes(DType type, std::uint64_t elements);

// Product of the dimensions, or nullopt on overflow or a negative dimension.
std::optional<std::uint64_t> element_count(const std::vector<std::int64_t>& shape);

std::string shape_text(const std::vector<std::int64_t>& shape);  // "[4096, 11008]"

}  // namespace quantlens
