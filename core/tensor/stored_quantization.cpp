#include "tensor/stored_quantization.hpp"

#include <cstring>

#include "tensor/convert.hpp"
#include "util/error.hpp"

namespace quantlens {

namespace {

bool is_integer_code(DType type) {
    switch (type) {
        case DType::I8:
        case DType::U8:
        case DType::I16:
        case DType::U16:
        case DType::I32:
        case DType::I4:
        case DType::U4: return true;
        default: return false;
    }
}

bool is_float8_type(DType type) {
    return type == DType::F8_E4M3 || type == DType::F8_E5M2 || type == DType::F8_E4M3FNUZ ||
           type == DType::F8_E5M2FNUZ;
}

bool is_scale_type(DType type) {
    return type == DType::F32 || type == DType::F16 || type == DType::BF16;
}

// Integer codes (or zero points) widened to int32; every integer code type fits.
std::vector<std::int32_t> integers(DType type, std::span<const std::byte> bytes, std::size_t count) {
    std::vector<std::int32_t> out(count);
    const auto* raw = reinterpret_cast<const unsigned char*>(bytes.data());
    for (std::size_t i = 0; i < count; ++i) {
        switch (type) {
            case DType::I8: out[i] = static_cast<std::int8_t>(raw[i]); break;
            case DType::U8: out[i] = raw[i]; break;
            case DType::I16: {
                std::int16_t v;
                std::memcpy(&v, raw + 2 * i, 2);
                out[i] = v;
                break;
            }
            case DType::U16: {
                std::uint16_t v;
                std::memcpy(&v, raw + 2 * i, 2);
                out[i] = v;
                break;
            }
            case DType::I32: std::memcpy(&out[i], raw + 4 * i, 4); break;
            case DType::U4:
            case DType::I4: {
                const int nibble = (raw[i / 2] >> (4 * (i % 2))) & 0xF;  // first value in the low nibble
                out[i] = type == DType::I4 && nibble >= 8 ? nibble - 16 : nibble;
                break;
            }
            default: out[i] = 0;
        }
    }
    return out;
}

std::vector<float> floats(DType type, std::span<const std::byte> bytes, std::size_t count) {
    std::vector<float> out(count);
    decode_to_f32(type, bytes, out);
    return out;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
    return (a + b - 1) / b;
}

// The output rounded to the scales' type: DequantizeLinear's output has the scale's type.
float to_output_type(float value, DType scale_type) {
    if (scale_type == DType::F16)
        return f16_to_f32(f32_to_f16(value));
    if (scale_type == DType::BF16)
        return bf16_to_f32(f32_to_bf16(value));
    return value;
}

std::vector<float> dequantize_packed_rows(const std::string& file, const StoredQuantization& q,
                                          std::span<const std::byte> codes, const std::vector<float>& scales,
                                          std::span<const std::byte> zero_points,
                                          std::span<const std::byte> group_index) {
    const std::int64_t rows = q.shape[0], columns = q.shape[1], block = q.block_size,
                       blocks = ceil_div(columns, block), blob = block * q.bits / 8,
                       zero_row = ceil_div(blocks * q.bits, 8);
    const unsigned mask = (1u << q.bits) - 1;
    const auto* code_bytes = reinterpret_cast<const unsigned char*>(codes.data());
    std::vector<std::int32_t> groups;
    if (q.group_index)
        groups = integers(DType::I32, group_index, static_cast<std::size_t>(columns));
    const bool packed_zeros = q.zero_points && q.zero_points->dtype == DType::U8;
    std::vector<float> float_zeros;
    if (q.zero_points && !packed_zeros)
        float_zeros = floats(q.zero_points->dtype, zero_points, static_cast<std::size_t>(rows * blocks));
    const auto* zero_bytes = reinterpret_cast<const unsigned char*>(zero_points.data());
    std::vector<float> out(static_cast<std::size_t>(rows * columns));
    for (std::int64_t n = 0; n < rows; ++n)
        for (std::int64_t k = 0; k < columns; ++k) {
            const std::int64_t bit = (k % block) * q.bits;
            const unsigned code = (code_bytes[(n * blocks + k / block) * blob + bit / 8] >> (bit % 8)) & mask;
            std::int64_t group = k / block;
            if (!groups.empty()) {
                group = groups[static_cast<std::size_t>(k)];
                if (group < 0 || group >= blocks)
                    throw Error(file, q.group_index->name,
                                "g_idx[" + std::to_string(k) + "] is " + std::to_string(group) +
                                    ", outside the " + std::to_string(blocks) + " blocks of a row");
            }
            const float scale = scales[static_cast<std::size_t>(n * blocks + group)];
            float value;
            if (!float_zeros.empty()) {
                // onnxruntime scales code and zero point apart: code·scale − zero·scale (checked
                // against its MatMulNBits, tests/data/onnx-quantized/README.md).
                const float zero = float_zeros[static_cast<std::size_t>(n * blocks + group)];
                value = static_cast<float>(code) * scale - zero * scale;
            } else {
                std::int32_t zero = 1 << (q.bits - 1);
                if (packed_zeros) {
                    const std::int64_t zbit = group * q.bits;
                    zero = (zero_bytes[n * zero_row + zbit / 8] >> (zbit % 8)) & mask;
                }
                value = static_cast<float>(static_cast<std::int32_t>(code) - zero) * scale;
            }
            out[static_cast<std::size_t>(n * columns + k)] = to_output_type(value, q.scales.dtype);
        }
    return out;
}

}  // namespace

std::uint64_t StoredQuantization::stored_bytes() const {
    std::uint64_t total = codes.byte_size + scales.byte_size;
    for (const auto* part : {&zero_points, &group_index, &scale_factor})
        if (*part)
            total += (*part)->byte_size;
    for (const auto& table : tables)
        total += table.byte_size;
    return total;
}

std::string StoredQuantization::granularity() const {
    if (axis < 0)
        return "per-tensor";
    if (block_rows > 0)
        return "blocks of " + std::to_string(block_rows) + "x" + std::to_string(block_size);
    if (block_size == 0)
        return "per-channel (axis " + std::to_string(axis) + ")";
    return "blocks of " + std::to_string(block_size) + " (axis " + std::to_string(axis) + ")";
}

std::string StoredQuantization::type_name() const {
    std::string type;
    if (!code_name.empty())
        type = code_name;
    else if (is_float8)
        type = "float8 " + std::string(dtype_name(codes.dtype)).substr(3);  // "F8_E4M3" → "E4M3"
    else
        type = (is_signed ? "int" : "uint") + std::to_string(bits);
    return type + " " + granularity().substr(0, granularity().find(" ("));
}

void StoredQuantization::validate(const std::string& file) const {
    auto fail = [&](const TensorInfo& part, const std::string& reason) {
        throw Error(file, part.name, form + " " + reason);
    };
    const auto weight_elements = element_count(shape);
    if (!weight_elements || *weight_elements == 0)
        fail(codes, "weight shape " + shape_text(shape) + " holds no values");
    if (!is_scale_type(scales.dtype))
        fail(scales,
             "scales must be FLOAT, FLOAT16 or BFLOAT16, found " + std::string(dtype_name(scales.dtype)));
    if (scale_factor && (!is_scale_type(scale_factor->dtype) || scale_factor->elements() != 1))
        fail(*scale_factor, "input scale must be one float");
    if (packed_rows) {
        if (shape.size() != 2 || block_size < 1 || (bits != 2 && bits != 4 && bits != 8) ||
            (block_size * bits) % 8 != 0)
            fail(codes, "needs a [N, K] weight, bits 2, 4 or 8 and a block size of whole bytes; found " +
                            shape_text(shape) + ", bits " + std::to_string(bits) + ", block_size " +
                            std::to_string(block_size));
        const std::int64_t blocks = ceil_div(shape[1], block_size);
        const auto need = static_cast<std::uint64_t>(shape[0] * blocks);
        if (codes.dtype != DType::U8 ||
            codes.elements() != need * static_cast<std::uint64_t>(block_size * bits / 8))
            fail(codes, "packed weight must be UINT8 [N, blocks, block_size·bits/8] = " +
                            std::to_string(need * static_cast<std::uint64_t>(block_size * bits / 8)) +
                            " bytes, found " + std::to_string(codes.elements()));
        if (scales.elements() != need)
            fail(scales, "needs N·blocks = " + std::to_string(need) + " scales, found " +
                             std::to_string(scales.elements()));
        if (zero_points) {
            const auto packed = static_cast<std::uint64_t>(shape[0] * ceil_div(blocks * bits, 8));
            const bool ok = zero_points->dtype == DType::U8
                                ? zero_points->elements() == packed
                                : zero_points->dtype == scales.dtype && zero_points->elements() == need;
            if (!ok)
                fail(*zero_points, "zero points must be packed UINT8 (" + std::to_string(packed) +
                                       " bytes) or one per block of the scales' type (" +
                                       std::to_string(need) + "), found " +
                                       std::to_string(zero_points->elements()) + " " +
                                       std::string(dtype_name(zero_points->dtype)));
        }
        if (group_index && (group_index->dtype != DType::I32 ||
                            group_index->elements() != static_cast<std::uint64_t>(shape[1])))
            fail(*group_index, "g_idx must be INT32 with K = " + std::to_string(shape[1]) + " values");
        return;
    }
    if (!is_integer_code(codes.dtype) && !is_float8_type(codes.dtype))
        fail(codes, "cannot dequantize " + std::string(dtype_name(codes.dtype)) + " values");
    if (codes.shape != shape)
        fail(codes, "codes of shape " + shape_text(codes.shape) + " for a weight of " + shape_text(shape));
    const auto rank = static_cast<int>(shape.size());
    std::uint64_t need = 1;
    if (axis >= rank)
        fail(scales,
             "axis " + std::to_string(axis) + " is outside a rank-" + std::to_string(rank) + " weight");
    if (axis >= 0 && block_size == 0) {
        need = static_cast<std::uint64_t>(shape[static_cast<std::size_t>(axis)]);
    } else if (axis >= 0) {
        if (block_size < 1)
            fail(scales, "block_size " + std::to_string(block_size) + " is not positive");
        std::vector<std::int64_t> expected = shape;
        expected[static_cast<std::size_t>(axis)] =
            ceil_div(shape[static_cast<std::size_t>(axis)], block_size);
        if (scales.shape != expected)
            fail(scales, "blocked scales must have shape " + shape_text(expected) + ", found " +
                             shape_text(scales.shape));
        need = *element_count(expected);
    }
    if (scales.elements() != need)
        fail(scales, "needs " + std::to_string(need) + " scales for " + granularity() + ", found " +
                         std::to_string(scales.elements()));
    if (zero_points && (zero_points->elements() != need || zero_points->dtype != codes.dtype))
        fail(*zero_points, "zero points must match the scales in count (" + std::to_string(need) +
                               ") and the codes in type (" + std::string(dtype_name(codes.dtype)) +
                               "), found " + std::to_string(zero_points->elements()) + " " +
                               std::string(dtype_name(zero_points->dtype)));
}

std::vector<float> dequantize_stored(const std::string& file, const StoredQuantization& q,
                                     std::span<const std::byte> codes, std::span<const std::byte> scales,
                                     std::span<const std::byte> zero_points,
                                     std::span<const std::byte> group_index,
                                     std::span<const std::byte> scale_factor) {
    auto scale_values = floats(q.scales.dtype, scales, static_cast<std::size_t>(q.scales.elements()));
    if (q.scale_factor) {
        const float factor = floats(q.scale_factor->dtype, scale_factor, 1)[0];
        for (auto& scale : scale_values)
            scale *= factor;
    }
    if (q.packed_rows)
        return dequantize_packed_rows(file, q, codes, scale_values, zero_points, group_index);
    const auto count = static_cast<std::size_t>(*element_count(q.shape));
    std::int64_t outer = 1, extent = 1, inner = 1;
    if (q.axis >= 0) {
        const auto axis = static_cast<std::size_t>(q.axis);
        for (std::size_t d = 0; d < axis; ++d)
            outer *= q.shape[d];
        extent = q.shape[axis];
        for (std::size_t d = axis + 1; d < q.shape.size(); ++d)
            inner *= q.shape[d];
    } else {
        inner = static_cast<std::int64_t>(count);
    }
    const std::int64_t block = q.axis < 0          ? 1
                               : q.block_size == 0 ? 1
                                                   : q.block_size,
                       blocks = q.axis < 0 ? 1 : ceil_div(extent, block);
    // The index of the scale (and zero point) of the value at (o, d, i).
    auto scale_at = [&](std::int64_t o, std::int64_t d, std::int64_t i) -> std::size_t {
        if (q.axis < 0)
            return 0;
        if (q.block_size == 0)
            return static_cast<std::size_t>(d);
        return static_cast<std::size_t>((o * blocks + d / block) * inner + i);
    };
    std::vector<float> out(count);
    std::vector<float> code_floats;
    std::vector<std::int32_t> code_ints, zeros;
    if (q.is_float8)
        code_floats = floats(q.codes.dtype, codes, count);
    else
        code_ints = integers(q.codes.dtype, codes, count);
    if (q.zero_points && !q.is_float8)
        zeros = integers(q.zero_points->dtype, zero_points, scale_values.size());
    std::size_t at = 0;
    for (std::int64_t o = 0; o < outer; ++o)
        for (std::int64_t d = 0; d < extent; ++d)
            for (std::int64_t i = 0; i < inner; ++i, ++at) {
                const std::size_t s = scale_at(o, d, i);
                // A float8 zero point must be zero (ONNX); its codes convert exactly.
                const float value = q.is_float8
                                        ? code_floats[at] * scale_values[s]
                                        : static_cast<float>(code_ints[at] - (zeros.empty() ? 0 : zeros[s])) *
                                              scale_values[s];
                out[at] = to_output_type(value, q.scales.dtype);
            }
    return out;
}

}  // namespace quantlens
