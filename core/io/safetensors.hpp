#pragma once
// safetensors (REFERENCE.md §7): u64 header length N, N bytes of JSON, then the data
// buffer. Also sharded checkpoints (*.safetensors.index.json) and Hugging Face folders.
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/model_file.hpp"

namespace quantlens {

struct SafetensorsEntry {
    TensorInfo info;
    std::uint64_t begin = 0;  // relative to the data buffer
};

struct SafetensorsHeader {
    std::vector<SafetensorsEntry> entries;           // in header order
    std::map<std::string, std::string> metadata;     // __metadata__
    std::uint64_t data_start = 0;                    // 8 + N
};

constexpr std::uint64_t kSafetensorsMaxHeader = 100'000'000;  // the reference caps at 100 MB

// Validates the whole header against the file's bytes (offsets, sizes, coverage).
SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file, const std::string& path);

// weight_map of a sharded index: tensor -> shard file name (validated, no path escapes).
std::map<std::string, std::string> parse_safetensors_index(std::string_view json_text, const std::string& path);

bool looks_like_safetensors(std::span<const std::byte> prefix, std::uint64_t file_size);

std::unique_ptr<ModelFile> open_safetensors(const std::string& path);
std::unique_ptr<ModelFile> open_safetensors_index(const std::string& index_path);
std::unique_ptr<ModelFile> open_hf_folder(const std::string& folder);

struct TensorToWrite {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;  // outermost first
    std::span<const std::byte> bytes;
};

// Writes atomically; tensors in the given order, data aligned to 8 bytes.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace quantlens
