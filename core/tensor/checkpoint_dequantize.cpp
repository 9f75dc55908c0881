// Dequantization of the checkpoint conventions of io/checkpoint_quantized.hpp: each as the tool
// that writes it dequantizes (docs/formats.md §15). The reader has checked every part's size
// against the weight's shape before a value is read here; g_idx entries are checked here.
#include <cstring>

#include "tensor/convert.hpp"
#include "tensor/stored_quantization.hpp"
#include "util/error.hpp"
#include "util/parallel.hpp"

namespace quantlens {

namespace {

std::vector<float> floats(DType type, std::span<const std::byte> bytes) {
    std::vector<float> out(bytes.size() / dtype_info(type).block_bytes);
    decode_to_f32(type, bytes, out);
    return out;
}

std::vector<std::int32_t> int32s(std::span<const std::byte> bytes) {
    std::vector<std::int32_t> out(bytes.size() / 4);
    if (!out.empty())  // an absent part is an empty span whose data() may be null
        std::memcpy(out.data(), bytes.data(), out.size() * 4);
    return out;
}

// 32-bit little-endian words read in place from a part's bytes (no copy of a large qweight).
struct Words {
    std::span<const std::byte> bytes;
    std::uint32_t operator[](std::size_t i) const {
        std::uint32_t word;
        std::memcpy(&word, bytes.data() + 4 * i, 4);
        return word;
    }
    std::size_t size() const { return bytes.size() / 4; }
};

// Value `index` of a little-endian stream of `bits`-bit values in 32-bit words, the stream's
// word w being words[first + w·stride] (a value may straddle two words, as GPTQ's 3-bit does).
std::uint32_t stream_value(const Words& words, std::size_t first, std::size_t stride, std::int64_t index,
                           int bits) {
    const auto bit = static_cast<std::uint64_t>(index) * static_cast<std::uint64_t>(bits);
    const std::size_t word = static_cast<std::size_t>(bit / 32), shift = bit % 32;
    std::uint64_t value = static_cast<std::uint32_t>(words[first + word * stride]);
    if (shift + static_cast<std::size_t>(bits) > 32)
        value |= static_cast<std::uint64_t>(static_cast<std::uint32_t>(words[first + (word + 1) * stride]))
                 << 32;
    return static_cast<std::uint32_t>((value >> shift) & ((1u << bits) - 1));
}

// Runs body(n) for every output row, in parallel for large weights.
template <class Body>
void for_rows(std::int64_t rows, std::int64_t columns, Body body) {
    const auto grain =
        static_cast<std::size_t>(std::max<std::int64_t>(1, (1 << 16) / std::max<std::int64_t>(columns, 1)));
    parallel_for(static_cast<std::size_t>(rows), grain, [&](std::size_t first, std::size_t last) {
        for (std::size_t n = first; n < last; ++n)
            body(static_cast<std::int64_t>(n));
    });
}

// The group of each input column: g_idx's when present (checked against `groups`), else k / size.
std::vector<std::int32_t> column_groups(const std::string& file, const StoredQuantization& q,
                                        std::span<const std::byte> group_index, std::int64_t columns,
                                        std::int64_t groups) {
    std::vector<std::int32_t> out(static_cast<std::size_t>(columns));
    if (q.group_index) {
        out = int32s(group_index);
        for (std::int64_t k = 0; k < columns; ++k)
            if (out[static_cast<std::size_t>(k)] < 0 || out[static_cast<std::size_t>(k)] >= groups)
                throw Error(file, q.group_index->name,
                            "g_idx[" + std::to_string(k) + "] is " +
                                std::to_string(out[static_cast<std::size_t>(k)]) + ", outside the " +
                                std::to_string(groups) + " groups of scales");
        return out;
    }
    for (std::int64_t k = 0; k < columns; ++k)
        out[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(k / q.block_size);
    return out;
}

constexpr int kAwqReverseOrder[8] = {0, 4, 1, 5, 2, 6, 3, 7};  // column c's nibble in a word

}  // namespace

std::vector<float> dequantize_checkpoint(const std::string& file, const StoredQuantization& q,
                                         std::span<const std::byte> codes, std::span<const std::byte> scales,
                                         std::span<const std::byte> zero_points,
                                         std::span<const std::byte> group_index,
                                         const std::vector<std::span<const std::byte>>& tables) {
    std::vector<float> out(static_cast<std::size_t>(q.shape[0] * q.shape[1]));
    dequantize_checkpoint_into(file, q, codes, scales, zero_points, group_index, tables, out);
    return out;
}

void dequantize_checkpoint_into(const std::string& file, const StoredQuantization& q,
                                std::span<const std::byte> codes, std::span<const std::byte> scales,
                                std::span<const std::byte> zero_points,
                                std::span<const std::byte> group_index,
                                const std::vector<std::span<const std::byte>>& tables, std::span<float> out) {
    const std::int64_t N = q.shape[0], K = q.shape[1];
    const bool nested = q.packing == CheckpointPacking::Bitsandbytes4 && q.tables.size() == 3;
    const auto scale = nested ? std::vector<float>{} : floats(q.scales.dtype, scales);  // nested: uint8 codes
    const int bits = q.bits;
    auto at = [&](std::int64_t n, std::int64_t k) -> float& {
        return out[static_cast<std::size_t>(n * K + k)];
    };
    switch (q.packing) {
        case CheckpointPacking::GptqColumns: {
            const Words words{codes}, zeros{zero_points};
            const std::int64_t groups = static_cast<std::int64_t>(scale.size()) / N,
                               zero_words = static_cast<std::int64_t>(zeros.size()) / groups;
            const auto group = column_groups(file, q, group_index, K, groups);
            std::vector<std::int32_t> zero(static_cast<std::size_t>(groups * N));  // unpacked once
            for (std::int64_t g = 0; g < groups; ++g)
                for (std::int64_t n = 0; n < N; ++n)
                    zero[static_cast<std::size_t>(g * N + n)] =
                        static_cast<std::int32_t>(
                            stream_value(zeros, static_cast<std::size_t>(g * zero_words), 1, n, bits)) +
                        q.zero_offset;
            auto value = [&](std::int64_t n, std::int64_t k, std::uint32_t code) {
                const auto at_group = static_cast<std::size_t>(group[static_cast<std::size_t>(k)] * N + n);
                at(n, k) =
                    static_cast<float>(static_cast<std::int32_t>(code) - zero[at_group]) * scale[at_group];
            };
            if (32 % bits == 0) {  // whole values per word: one word row of qweight at a time, in order
                const std::int64_t per = 32 / bits, word_rows = K / per;
                const std::uint32_t mask = (1u << bits) - 1;
                for_rows(word_rows, N * per, [&](std::int64_t r) {
                    for (std::int64_t n = 0; n < N; ++n) {
                        const std::uint32_t word = words[static_cast<std::size_t>(r * N + n)];
                        for (std::int64_t j = 0; j < per; ++j)
                            value(n, r * per + j, (word >> (j * bits)) & mask);
                    }
                });
            } else {  // 3 bits: values straddle words
                for_rows(N, K, [&](std::int64_t n) {
                    for (std::int64_t k = 0; k < K; ++k)
                        value(n, k,
                              stream_value(words, static_cast<std::size_t>(n), static_cast<std::size_t>(N), k,
                                           bits));
                });
            }
            break;
        }
        case CheckpointPacking::AwqGemm: {
            const Words words{codes}, zeros{zero_points};
            const std::int64_t per_row = N / 8;
            for_rows(K, N, [&](std::int64_t k) {  // qweight row k: input k of every output
                const std::int64_t g = k / q.block_size;
                for (std::int64_t w = 0; w < per_row; ++w) {
                    const std::uint32_t word = words[static_cast<std::size_t>(k * per_row + w)],
                                        zword = zeros[static_cast<std::size_t>(g * per_row + w)];
                    for (std::int64_t c = 0; c < 8; ++c) {
                        const int shift = 4 * kAwqReverseOrder[c];
                        const std::int64_t n = w * 8 + c;
                        const auto code = static_cast<std::int32_t>((word >> shift) & 15u),
                                   zero = static_cast<std::int32_t>((zword >> shift) & 15u);
                        at(n, k) =
                            static_cast<float>(code - zero) * scale[static_cast<std::size_t>(g * N + n)];
                    }
                }
            });
            break;
        }
        case CheckpointPacking::AwqGemv: {
            const Words words{codes}, zeros{zero_points};
            const std::int64_t zero_width = static_cast<std::int64_t>(zeros.size()) / N, per_row = K / 8,
                               scale_width = static_cast<std::int64_t>(scale.size()) / N;
            for_rows(N, K, [&](std::int64_t n) {
                for (std::int64_t k = 0; k < K; ++k) {
                    const std::int64_t g = k / q.block_size;
                    const auto code = static_cast<std::int32_t>(
                        stream_value(words, static_cast<std::size_t>(n * per_row), 1, k, 4));
                    const auto zero = static_cast<std::int32_t>(
                        stream_value(zeros, static_cast<std::size_t>(n * zero_width), 1, g, 4));
                    at(n, k) = static_cast<float>(code - zero) *
                               scale[static_cast<std::size_t>(n * scale_width + g)];
                }
            });
            break;
        }
        case CheckpointPacking::MlxRows: {
            const Words words{codes};
            const auto bias = floats(q.zero_points->dtype, zero_points);
            const std::int64_t groups = static_cast<std::int64_t>(scale.size()) / N, per_row = K * bits / 32;
            for_rows(N, K, [&](std::int64_t n) {
                for (std::int64_t k = 0; k < K; ++k) {
                    const auto g = static_cast<std::size_t>(n * groups + k / q.block_size);
                    const auto code = stream_value(words, static_cast<std::size_t>(n * per_row), 1, k, bits);
                    const float scaled = scale[g] * static_cast<float>(code);
                    at(n, k) = scaled + bias[g];
                }
            });
            break;
        }
        case CheckpointPacking::CompressedPacked: {
            const Words words{codes};
            std::vector<std::int32_t> zeros =
                q.zero_points ? int32s(zero_points) : std::vector<std::int32_t>{};
            std::int32_t tensor_zero = 0;  // a per-tensor zero point is one plain integer
            if (q.zero_points && q.axis < 0) {
                tensor_zero = q.zero_points->dtype == DType::I8
                                  ? static_cast<std::int32_t>(static_cast<std::int8_t>(zero_points[0]))
                                  : zeros.at(0);
                zeros.clear();
            }
            const std::int64_t per_word = 32 / bits, per_row = (K + per_word - 1) / per_word,
                               groups = static_cast<std::int64_t>(scale.size()) == 1
                                            ? 1
                                            : static_cast<std::int64_t>(scale.size()) / N;
            const std::int32_t offset = 1 << (bits - 1);
            const std::uint32_t mask = (1u << bits) - 1;
            for_rows(N, K, [&](std::int64_t n) {
                for (std::int64_t k = 0; k < K; ++k) {
                    const auto word = static_cast<std::uint32_t>(
                        words[static_cast<std::size_t>(n * per_row + k / per_word)]);
                    const auto code =
                        static_cast<std::int32_t>((word >> ((k % per_word) * bits)) & mask) - offset;
                    const std::int64_t g =
                        scale.size() == 1 ? 0 : n * groups + (groups == 1 ? 0 : k / q.block_size);
                    std::int32_t zero = tensor_zero;
                    if (!zeros.empty()) {
                        const std::int64_t group = groups == 1 ? 0 : k / q.block_size;
                        const auto zword = static_cast<std::uint32_t>(
                            zeros[static_cast<std::size_t>((n / per_word) * groups + group)]);
                        zero = static_cast<std::int32_t>((zword >> ((n % per_word) * bits)) & mask) - offset;
                    }
                    at(n, k) = static_cast<float>(code - zero) * scale[static_cast<std::size_t>(g)];
                }
            });
            break;
        }
        case CheckpointPacking::Bitsandbytes4: {
            const auto quant_map = floats(q.tables.at(0).dtype, tables.at(0));
            std::vector<float> absmax;
            if (nested) {  // absmax codes: absmax codes into nested_quant_map, per nested block
                const auto nested_absmax = floats(q.tables[1].dtype, tables[1]);
                const auto nested_map = floats(q.tables[2].dtype, tables[2]);
                absmax.resize(scales.size());
                const auto* absmax_codes = reinterpret_cast<const unsigned char*>(scales.data());
                for (std::size_t b = 0; b < absmax.size(); ++b) {
                    const float scaled = nested_map[absmax_codes[b]] *
                                         nested_absmax[b / static_cast<std::size_t>(q.nested_block_size)];
                    absmax[b] = scaled + q.nested_offset;
                }
            } else {
                absmax = scale;
            }
            const auto* bytes = reinterpret_cast<const unsigned char*>(codes.data());
            for_rows(N, K, [&](std::int64_t n) {
                for (std::int64_t k = 0; k < K; ++k) {
                    const auto i = static_cast<std::size_t>(n * K + k);
                    const unsigned code = i % 2 == 0 ? bytes[i / 2] >> 4 : bytes[i / 2] & 15u;
                    at(n, k) = quant_map[code] * absmax[i / static_cast<std::size_t>(q.block_size)];
                }
            });
            break;
        }
        case CheckpointPacking::Bitsandbytes8: {
            const auto* bytes = reinterpret_cast<const signed char*>(codes.data());
            constexpr float kInverse127 = 7.874015718698502e-3f;  // bitsandbytes' 1/127
            for_rows(N, K, [&](std::int64_t n) {
                for (std::int64_t k = 0; k < K; ++k) {
                    const float scaled =
                        static_cast<float>(bytes[n * K + k]) * scale[static_cast<std::size_t>(n)];
                    at(n, k) = scaled * kInverse127;
                }
            });
            break;
        }
        case CheckpointPacking::Float8Blocks: {
            const auto values = floats(q.codes.dtype, codes);
            const std::int64_t block_columns = (K + q.block_size - 1) / q.block_size;
            for_rows(N, K, [&](std::int64_t n) {
                for (std::int64_t k = 0; k < K; ++k) {
                    const auto b =
                        static_cast<std::size_t>((n / q.block_rows) * block_columns + k / q.block_size);
                    at(n, k) = values[static_cast<std::size_t>(n * K + k)] * scale[b];
                }
            });
            break;
        }
        case CheckpointPacking::None: throw Error(file, q.codes.name, "not a checkpoint packing");
    }
    // The tools compute in the scale's dtype: one rounding of each finished value to it, in
    // batches (F16C where the CPU has it) rather than value by value.
    constexpr std::int64_t batch = 1 << 16;
    parallel_for(static_cast<std::size_t>((N * K + batch - 1) / batch), 1,
                 [&](std::size_t first, std::size_t last) {
                     const auto begin = static_cast<std::int64_t>(first) * batch;
                     const auto end = std::min(N * K, static_cast<std::int64_t>(last) * batch);
                     round_through(q.output_type, out.subspan(static_cast<std::size_t>(begin),
                                                              static_cast<std::size_t>(end - begin)));
                 });
}

}  // namespace quantlens
