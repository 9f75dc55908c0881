#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "io/json_limits.hpp"
#include "io/safetensors.hpp"
#include "util/error.hpp"
#include "util/mapped_file.hpp"

namespace quantlens {

namespace fs = std::filesystem;

namespace {

std::uint64_t read_u64(std::span<const std::byte> bytes) {
    std::uint64_t value;
    std::memcpy(&value, bytes.data(), 8);
    return value;
}

std::vector<std::int64_t> parse_shape(const nlohmann::json& shape, const std::string& path,
                                      const std::string& field) {
    if (!shape.is_array())
        throw Error(path, field, "\"shape\" must be an array of non-negative integers");
    if (shape.size() > 16)
        throw Error(path, field,
                    "\"shape\" has " + std::to_string(shape.size()) + " dimensions (at most 16)");
    std::vector<std::int64_t> dims;
    for (const auto& dim : shape) {
        if (!dim.is_number_unsigned())
            throw Error(path, field, "\"shape\" must hold non-negative integers, found " + dim.dump());
        auto value = dim.get<std::uint64_t>();
        if (value > (1ull << 62))
            throw Error(path, field, "dimension " + std::to_string(value) + " is too large");
        dims.push_back(static_cast<std::int64_t>(value));
    }
    return dims;
}

SafetensorsEntry parse_entry(const std::string& name, const nlohmann::json& entry, const std::string& path) {
    const std::string field = "tensor \"" + name + "\"";
    if (!entry.is_object())
        throw Error(path, field, "entry must be an object with dtype, shape, data_offsets");
    for (const char* key : {"dtype", "shape", "data_offsets"})
        if (!entry.contains(key))
            throw Error(path, field, std::string("missing \"") + key + "\"");
    if (!entry["dtype"].is_string())
        throw Error(path, field + " dtype", "must be a string");
    auto dtype_text = entry["dtype"].get<std::string>();
    auto dtype = dtype_from_name(dtype_text);
    if (!dtype || dtype_info(*dtype).is_block || onnx_only(*dtype))
        throw Error(path, field + " dtype",
                    "unknown dtype \"" + dtype_text +
                        "\" (expected BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64, "
                        "F8_E4M3 or F8_E5M2)");
    SafetensorsEntry result;
    result.info.name = name;
    result.info.dtype = *dtype;
    result.info.shape = parse_shape(entry["shape"], path, field + " shape");
    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
        throw Error(path, field + " data_offsets", "must be [begin, end] with non-negative integers");
    auto begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
    if (end < begin)
        throw Error(path, field + " data_offsets",
                    "end " + std::to_string(end) + " is before begin " + std::to_string(begin));
    auto elements = element_count(result.info.shape);
    auto bytes = elements ? storage_bytes(*dtype, *elements) : std::nullopt;
    if (!bytes)
        throw Error(path, field + " shape",
                    "element count of " + shape_text(result.info.shape) + " overflows 64 bits");
    if (end - begin != *bytes)
        throw Error(path, field + " data_offsets",
                    "span of " + std::to_string(end - begin) + " bytes, but shape " +
                        shape_text(result.info.shape) + " of " + dtype_text + " needs " +
                        std::to_string(*bytes));
    result.info.byte_size = *bytes;
    result.begin = begin;
    return result;
}

}  // namespace

bool looks_like_safetensors(std::span<const std::byte> prefix, std::uint64_t file_size) {
    if (prefix.size() < 9 || file_size < 10)
        return false;
    std::uint64_t n = read_u64(prefix);
    return n >= 2 && n <= file_size - 8 && static_cast<char>(prefix[8]) == '{';
}

SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file, const std::string& path) {
    if (file.size() < 8)
        throw Error(
            path, "header length (byte 0)",
            "file of " + std::to_string(file.size()) + " bytes is too short for the 8-byte header length");
    std::uint64_t n = read_u64(file);
    if (n > kSafetensorsMaxHeader)
        throw Error(path, "header length (byte 0)",
                    "header of " + std::to_string(n) + " bytes exceeds the 100 MB limit");
    if (n > file.size() - 8)
        throw Error(path, "header length (byte 0)",
                    "header of " + std::to_string(n) + " bytes runs past the end of the " +
                        std::to_string(file.size()) + "-byte file");
    std::string_view text(reinterpret_cast<const char*>(file.data() + 8), n);
    if (text.empty() || text.front() != '{')
        throw Error(path, at_byte(8), "header must be a JSON object starting with '{'");
    auto json = parse_untrusted_json(text, path, "header", 8);
    if (!json.is_object())
        throw Error(path, "header", "must be a JSON object");

    SafetensorsHeader header;
    header.data_start = 8 + n;
    const std::uint64_t buffer_size = file.size() - header.data_start;
    for (auto it = json.begin(); it != json.end(); ++it) {
        if (it.key() == "__metadata__") {
            if (!it.value().is_object())
                throw Error(path, "__metadata__", "must be an object of strings");
            for (auto m = it.value().begin(); m != it.value().end(); ++m) {
                if (!m.value().is_string())
                    throw Error(path, "__metadata__." + m.key(),
                                "value must be a string, found " + m.value().dump());
                header.metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        header.entries.push_back(parse_entry(it.key(), it.value(), path));
    }
    // Byte ranges must tile the buffer exactly: sorted by begin, each starts where the
    // previous ended, and the last ends at the end of the file.
    std::vector<const SafetensorsEntry*> order;
    for (const auto& entry : header.entries)
        order.push_back(&entry);
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
    std::uint64_t expected = 0;
    for (const auto* entry : order) {
        if (entry->begin != expected)
            throw Error(path, "tensor \"" + entry->info.name + "\" data_offsets",
                        entry->begin < expected
                            ? "overlaps the previous tensor (begins at " + std::to_string(entry->begin) +
                                  ", previous ends at " + std::to_string(expected) + ")"
                            : "leaves a hole: begins at " + std::to_string(entry->begin) +
                                  ", previous tensor ends at " + std::to_string(expected));
        expected = entry->begin + entry->info.byte_size;
    }
    if (expected != buffer_size)
        throw Error(path, "data buffer",
                    "tensors cover " + std::to_string(expected) +
                        " bytes but the data buffer after the header holds " + std::to_string(buffer_size));
    // The JSON object has no reliable key order; data order is the order writers follow
    // (the model's order), so tensors are listed that way.
    std::vector<SafetensorsEntry> in_file_order;
    for (const auto* entry : order)
        in_file_order.push_back(*entry);
    header.entries = std::move(in_file_order);
    return header;
}

namespace {

// One model spread over one or more safetensors files.
class SafetensorsModel final : public ModelFile {
public:
    SafetensorsModel(std::string path, std::string_view format)
        : ModelFile(std::move(path)), format_(format) {}
    std::string_view format() const override { return format_; }

    void add_shard(const std::string& shard_path, const std::map<std::string, std::string>* expected_names) {
        auto file = MappedFile::open(shard_path);
        auto header = parse_safetensors_header(file->bytes(), shard_path);
        std::size_t shard = shards_.size();
        shards_.push_back({file, header.data_start});
        for (auto& [key, value] : header.metadata)
            metadata_[key] = value;
        for (auto& entry : header.entries) {
            if (expected_names) {
                auto it = expected_names->find(entry.info.name);
                if (it == expected_names->end() || fs::path(shard_path).filename() != it->second)
                    continue;
            }
            locations_[entry.info.name] = {shard, entry.begin};
            add_tensor(entry.info);
        }
    }

    void set_config(nlohmann::json config) { config_ = std::move(config); }
    void fold() { fold_checkpoint_weights(); }

protected:
    TensorBytes read_bytes(const TensorInfo& info) const override {
        const auto& where = locations_.at(info.name);
        const auto& shard = shards_[where.shard];
        return TensorBytes::file_view(
            shard.file, shard.file->range(shard.data_start + where.begin, info.byte_size, info.name));
    }

private:
    struct Shard {
        std::shared_ptr<const MappedFile> file;
        std::uint64_t data_start;
    };
    struct Location {
        std::size_t shard;
        std::uint64_t begin;
    };
    std::string_view format_;
    std::vector<Shard> shards_;
    std::unordered_map<std::string, Location> locations_;
};

void add_shards_from_index(SafetensorsModel& model, const std::string& index_path) {
    auto weight_map = parse_safetensors_index(read_small_text(index_path, kSafetensorsMaxHeader), index_path);
    std::set<std::string> shard_names;
    for (const auto& [tensor, shard] : weight_map)
        shard_names.insert(shard);
    auto folder = fs::path(index_path).parent_path();
    for (const auto& shard : shard_names)
        model.add_shard((folder / shard).string(), &weight_map);
    for (const auto& [tensor, shard] : weight_map)
        model.tensor(tensor);  // throws if the shard does not hold the tensor the index promises
}

}  // namespace

std::string read_small_text(const std::string& path, std::size_t limit) {
    return read_small_file(path, limit);
}

std::map<std::string, std::string> parse_safetensors_index(std::string_view json_text,
                                                           const std::string& path) {
    auto json = parse_untrusted_json(json_text, path, "index");
    if (!json.is_object() || !json.contains("weight_map") || !json["weight_map"].is_object())
        throw Error(path, "weight_map", "a sharded index needs an object \"weight_map\": {tensor: file}");
    std::map<std::string, std::string> result;
    for (auto it = json["weight_map"].begin(); it != json["weight_map"].end(); ++it) {
        if (!it.value().is_string())
            throw Error(path, "weight_map." + it.key(), "file name must be a string");
        auto shard = it.value().get<std::string>();
        fs::path shard_path(shard);
        if (shard.empty() || shard_path.is_absolute() || shard_path.has_parent_path() || shard == "." ||
            shard == "..")
            throw Error(path, "weight_map." + it.key(),
                        "shard \"" + shard + "\" must be a plain file name in the index's folder");
        result[it.key()] = shard;
    }
    if (result.empty())
        throw Error(path, "weight_map", "is empty");
    return result;
}

std::unique_ptr<ModelFile> open_safetensors(const std::string& path) {
    auto model = std::make_unique<SafetensorsModel>(path, "safetensors");
    model->add_shard(path, nullptr);
    model->fold();
    return model;
}

std::unique_ptr<ModelFile> open_safetensors_index(const std::string& index_path) {
    auto model = std::make_unique<SafetensorsModel>(index_path, "safetensors (sharded)");
    add_shards_from_index(*model, index_path);
    model->fold();
    return model;
}

std::unique_ptr<ModelFile> open_hf_folder(const std::string& folder) {
    auto model = std::make_unique<SafetensorsModel>(folder, "huggingface folder");
    const fs::path dir(folder);
    if (fs::exists(dir / "config.json")) {
        auto config_path = (dir / "config.json").string();
        auto config = parse_untrusted_json(read_small_text(config_path, 16 << 20), config_path, "config");
        if (!config.is_object())
            throw Error(config_path, "", "config.json must hold a JSON object");
        model->set_config(std::move(config));
    }
    if (fs::exists(dir / "model.safetensors.index.json")) {
        add_shards_from_index(*model, (dir / "model.safetensors.index.json").string());
        model->fold();
        return model;
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.is_regular_file() && entry.path().extension() == ".safetensors")
            files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        bool pickle = fs::exists(dir / "pytorch_model.bin");
        throw Error(folder, "",
                    pickle ? "holds only PyTorch pickle weights (pytorch_model.bin); QuantLens reads "
                             "safetensors — convert with safetensors' convert script"
                           : "no *.safetensors or model.safetensors.index.json in this folder");
    }
    for (const auto& file : files)
        model->add_shard(file.string(), nullptr);
    model->fold();
    return model;
}

}  // namespace quantlens
