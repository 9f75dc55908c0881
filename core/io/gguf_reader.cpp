#include <algorithm>

#include "io/byte_cursor.hpp"
#include "io/gguf.hpp"
#include "util/mapped_file.hpp"
#include "util/utf8.hpp"

namespace quantlens {

namespace {

constexpr int kMaxArrayNesting = 8;
constexpr std::uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

struct TypeEntry {
    std::uint32_t id;
    DType dtype;
};
// ggml.h enum ggml_type (docs/formats.md §5).
constexpr TypeEntry kGgmlTypes[] = {
    {0, DType::F32},      {1, DType::F16},     {2, DType::Q4_0},     {3, DType::Q4_1},   {6, DType::Q5_0},
    {7, DType::Q5_1},     {8, DType::Q8_0},    {9, DType::Q8_1},     {10, DType::Q2_K},  {11, DType::Q3_K},
    {12, DType::Q4_K},    {13, DType::Q5_K},   {14, DType::Q6_K},    {15, DType::Q8_K},  {24, DType::I8},
    {25, DType::I16},     {26, DType::I32},    {27, DType::I64},     {28, DType::F64},   {30, DType::BF16},
    {16, DType::IQ2_XXS}, {17, DType::IQ2_XS}, {18, DType::IQ3_XXS}, {19, DType::IQ1_S}, {20, DType::IQ4_NL},
    {21, DType::IQ3_S},   {22, DType::IQ2_S},  {23, DType::IQ4_XS},  {29, DType::IQ1_M}, {34, DType::TQ1_0},
    {35, DType::TQ2_0},   {39, DType::MXFP4},  {40, DType::NVFP4},   {41, DType::Q1_0},  {42, DType::Q2_0},
};

std::string read_string(ByteCursor& in, const std::string& field) {
    auto start = in.offset();
    auto length = in.read<std::uint64_t>(field + " length");
    auto bytes = in.take(length, field);
    std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (!valid_utf8(text))
        in.fail(field, "string is not valid UTF-8", start);
    return text;
}

std::size_t fixed_size(GgufType type) {
    switch (type) {
        case GgufType::UINT8:
        case GgufType::INT8:
        case GgufType::BOOL: return 1;
        case GgufType::UINT16:
        case GgufType::INT16: return 2;
        case GgufType::UINT32:
        case GgufType::INT32:
        case GgufType::FLOAT32: return 4;
        case GgufType::UINT64:
        case GgufType::INT64:
        case GgufType::FLOAT64: return 8;
        default: return 0;
    }
}

nlohmann::json read_value(ByteCursor& in, GgufType type, const std::string& field, int depth) {
    switch (type) {
        case GgufType::UINT8: return in.read<std::uint8_t>(field);
        case GgufType::INT8: return in.read<std::int8_t>(field);
        case GgufType::UINT16: return in.read<std::uint16_t>(field);
        case GgufType::INT16: return in.read<std::int16_t>(field);
        case GgufType::UINT32: return in.read<std::uint32_t>(field);
        case GgufType::INT32: return in.read<std::int32_t>(field);
        case GgufType::FLOAT32: return in.read<float>(field);
        case GgufType::BOOL: {
            auto at = in.offset();
            auto b = in.read<std::uint8_t>(field);
            if (b > 1)
                in.fail(field, "BOOL must be 0 or 1, found " + std::to_string(b), at);
            return b == 1;
        }
        case GgufType::STRING: return read_string(in, field);
        case GgufType::UINT64: return in.read<std::uint64_t>(field);
        case GgufType::INT64: return in.read<std::int64_t>(field);
        case GgufType::FLOAT64: return in.read<double>(field);
        case GgufType::ARRAY: {
            auto at = in.offset();
            if (depth >= kMaxArrayNesting)
                in.fail(field, "arrays nest deeper than " + std::to_string(kMaxArrayNesting) + " levels", at);
            auto element_type = static_cast<GgufType>(in.read<std::uint32_t>(field + " element type"));
            auto count = in.read<std::uint64_t>(field + " count");
            // Each element needs at least one byte (8 for strings and arrays), so the
            // count is bounded by what is left of the file before anything is allocated.
            std::size_t min_size = fixed_size(element_type);
            if (min_size == 0)
                min_size = element_type == GgufType::ARRAY ? 12 : 8;
            if (static_cast<std::uint32_t>(element_type) > 12)
                in.fail(
                    field,
                    "unknown array element type " + std::to_string(static_cast<std::uint32_t>(element_type)),
                    at);
            if (count > in.remaining() / min_size)
                in.fail(field,
                        "array of " + std::to_string(count) + " elements cannot fit in the " +
                            std::to_string(in.remaining()) + " bytes left",
                        at);
            nlohmann::json array = nlohmann::json::array();
            array.get_ref<nlohmann::json::array_t&>().reserve(static_cast<std::size_t>(count));
            for (std::uint64_t i = 0; i < count; ++i)
                array.push_back(read_value(in, element_type, field, depth + 1));
            return array;
        }
    }
    in.fail(field,
            "unknown value type " + std::to_string(static_cast<std::uint32_t>(type)) + " (expected 0..12)",
            in.offset() - 4);
}

}  // namespace

std::optional<DType> dtype_from_ggml(std::uint32_t ggml_type) {
    for (auto entry : kGgmlTypes)
        if (entry.id == ggml_type)
            return entry.dtype;
    return std::nullopt;
}

std::optional<std::uint32_t> ggml_from_dtype(DType dtype) {
    for (auto entry : kGgmlTypes)
        if (entry.dtype == dtype)
            return entry.id;
    return std::nullopt;
}

GgufHeader parse_gguf(std::span<const std::byte> file, const std::string& path) {
    ByteCursor in(file, path);
    auto magic = in.take(4, "magic");
    if (std::memcmp(magic.data(), "GGUF", 4) != 0)
        in.fail("magic", "expected the bytes \"GGUF\"", 0);
    GgufHeader header;
    header.version = in.read<std::uint32_t>("version");
    if (header.version == 1)
        in.fail("version", "GGUF v1 (32-bit counts) is obsolete; convert it with a current llama.cpp", 4);
    if (header.version != 2 && header.version != 3)
        in.fail("version",
                "unsupported GGUF version " + std::to_string(header.version) + " (expected 2 or 3)", 4);
    auto tensor_count = in.read<std::uint64_t>("tensor_count");
    auto kv_count = in.read<std::uint64_t>("metadata_kv_count");
    // A key/value takes at least 13 bytes and a tensor info at least 24: reject counts the
    // file cannot hold before reserving memory for them.
    if (kv_count > in.remaining() / 13)
        in.fail("metadata_kv_count",
                std::to_string(kv_count) + " entries cannot fit in a " + std::to_string(file.size()) +
                    "-byte file",
                16);
    if (tensor_count > in.remaining() / 24)
        in.fail("tensor_count",
                std::to_string(tensor_count) + " tensors cannot fit in a " + std::to_string(file.size()) +
                    "-byte file",
                8);

    for (std::uint64_t i = 0; i < kv_count; ++i) {
        GgufValue kv;
        kv.key = read_string(in, "metadata key #" + std::to_string(i));
        auto type_at = in.offset();
        kv.type = static_cast<GgufType>(in.read<std::uint32_t>("metadata \"" + kv.key + "\" type"));
        if (static_cast<std::uint32_t>(kv.type) > 12)
            in.fail("metadata \"" + kv.key + "\" type",
                    "unknown value type " + std::to_string(static_cast<std::uint32_t>(kv.type)) +
                        " (expected 0..12)",
                    type_at);
        auto value_at = in.offset();
        kv.value = read_value(in, kv.type, "metadata \"" + kv.key + "\"", 0);
        auto raw = file.subspan(value_at, in.offset() - value_at);
        kv.raw.assign(reinterpret_cast<const char*>(raw.data()), raw.size());
        if (kv.key == "general.alignment") {
            if (kv.type != GgufType::UINT32)
                in.fail("general.alignment", "must be UINT32", type_at);
            auto alignment = kv.value.get<std::uint32_t>();
            if (alignment == 0 || (alignment & (alignment - 1)) != 0)
                in.fail("general.alignment", "must be a power of two, found " + std::to_string(alignment),
                        value_at);
            header.alignment = alignment;
        }
        header.metadata.push_back(std::move(kv));
    }

    for (std::uint64_t i = 0; i < tensor_count; ++i) {
        GgufTensorEntry entry;
        entry.info.name = read_string(in, "tensor info #" + std::to_string(i) + " name");
        const std::string field = "tensor \"" + entry.info.name + "\"";
        auto dims_at = in.offset();
        auto n_dims = in.read<std::uint32_t>(field + " n_dims");
        if (n_dims == 0 || n_dims > kMaxDims)
            in.fail(field + " n_dims",
                    "must be 1.." + std::to_string(kMaxDims) + ", found " + std::to_string(n_dims), dims_at);
        std::vector<std::int64_t> ne(n_dims);
        for (auto& dim : ne) {
            auto value = in.read<std::uint64_t>(field + " ne");
            if (value > (1ull << 62))
                in.fail(field + " ne", "dimension " + std::to_string(value) + " is too large",
                        in.offset() - 8);
            dim = static_cast<std::int64_t>(value);
        }
        entry.info.shape.assign(ne.rbegin(), ne.rend());  // ne[0] is innermost
        entry.ggml_type = in.read<std::uint32_t>(field + " type");
        // A type id this build does not know still lists the tensor; its size comes from the
        // layout (below), since only the type knows its block size.
        const auto dtype = dtype_from_ggml(entry.ggml_type).value_or(DType::Unknown);
        entry.info.dtype = dtype;
        if (dtype == DType::Unknown)
            entry.info.unknown_type = entry.ggml_type;
        auto elements = element_count(entry.info.shape);
        if (!elements)
            in.fail(field + " ne", "element count overflows 64 bits", dims_at);
        if (ne[0] % dtype_info(dtype).block_elements != 0)
            in.fail(field + " ne",
                    "row length " + std::to_string(ne[0]) + " is not a multiple of the " +
                        std::string(dtype_name(dtype)) + " block size " +
                        std::to_string(dtype_info(dtype).block_elements),
                    dims_at);
        auto bytes = storage_bytes(dtype, *elements);
        if (!bytes)
            in.fail(field + " ne", "byte size overflows 64 bits", dims_at);
        entry.info.byte_size = *bytes;
        auto offset_at = in.offset();
        entry.offset = in.read<std::uint64_t>(field + " offset");
        if (entry.offset % header.alignment != 0)
            in.fail(field + " offset",
                    "offset " + std::to_string(entry.offset) + " is not a multiple of the alignment " +
                        std::to_string(header.alignment),
                    offset_at);
        header.tensors.push_back(std::move(entry));
    }

    header.data_start = (in.offset() + header.alignment - 1) / header.alignment * header.alignment;
    if (header.data_start > file.size() && !header.tensors.empty())
        in.fail("data section",
                "starts at byte " + std::to_string(header.data_start) + ", past the end of the file",
                in.offset());
    const std::uint64_t data_size = file.size() > header.data_start ? file.size() - header.data_start : 0;
    // A tensor of an unknown type spans up to the next tensor (or the end of the data).
    std::vector<std::uint64_t> starts;
    for (const auto& entry : header.tensors)
        starts.push_back(entry.offset);
    std::sort(starts.begin(), starts.end());
    for (auto& entry : header.tensors)
        if (entry.info.dtype == DType::Unknown) {
            const auto next = std::upper_bound(starts.begin(), starts.end(), entry.offset);
            const std::uint64_t end = next == starts.end() ? data_size : *next;
            entry.info.byte_size = end > entry.offset ? end - entry.offset : 0;
        }
    std::vector<const GgufTensorEntry*> order;
    for (const auto& entry : header.tensors) {
        if (entry.offset > data_size || entry.info.byte_size > data_size - entry.offset)
            throw Error(path, "tensor \"" + entry.info.name + "\" offset",
                        "data [" + std::to_string(entry.offset) + ", +" +
                            std::to_string(entry.info.byte_size) + ") lies outside the " +
                            std::to_string(data_size) + "-byte data section");
        order.push_back(&entry);
    }
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (std::size_t i = 1; i < order.size(); ++i)
        if (order[i - 1]->offset + order[i - 1]->info.byte_size > order[i]->offset)
            throw Error(path, "tensor \"" + order[i]->info.name + "\" offset",
                        "overlaps tensor \"" + order[i - 1]->info.name + "\"");
    return header;
}

namespace {

class GgufModel final : public ModelFile {
public:
    explicit GgufModel(const std::string& path) : ModelFile(path), file_(MappedFile::open(path)) {
        auto header = parse_gguf(file_->bytes(), path);
        data_start_ = header.data_start;
        metadata_["gguf.version"] = header.version;
        for (auto& kv : header.metadata) {
            // Very long arrays (tokenizer vocabularies) are summarised for display.
            if (kv.value.is_array() && kv.value.size() > 64)
                metadata_[kv.key] = "[array of " + std::to_string(kv.value.size()) + "]";
            else
                metadata_[kv.key] = kv.value;
        }
        for (auto& entry : header.tensors) {
            offsets_[entry.info.name] = entry.offset;
            add_tensor(entry.info);
        }
        header_ = std::move(header);
    }
    std::string_view format() const override { return "gguf"; }
    const GgufHeader& header() const { return header_; }

protected:
    TensorBytes read_bytes(const TensorInfo& info) const override {
        return TensorBytes::file_view(
            file_, file_->range(data_start_ + offsets_.at(info.name), info.byte_size, info.name));
    }

private:
    std::shared_ptr<const MappedFile> file_;
    std::uint64_t data_start_ = 0;
    std::unordered_map<std::string, std::uint64_t> offsets_;
    GgufHeader header_;
};

}  // namespace

std::unique_ptr<ModelFile> open_gguf(const std::string& path) {
    return std::make_unique<GgufModel>(path);
}

}  // namespace quantlens
