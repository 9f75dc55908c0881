#pragma once
// safetensors (docs/formats.md §7): u64 header length N, N bytes of JSON, then the data
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
    std::vector<SafetensorsEntry> entries;        // in header order
    std::map<std::string, std::string> metadata;  // __metadata__
    std::uint64_t data_start = 0;                 // 8 + N
};

constexpr std::uint64_t kSafetensorsMaxHeader = 100'000'000;  // the reference caps at 100 MB

// Validates the whole header against the file's bytes (offsets, sizes, coverage).
SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file, const std::string& path);

// weight_map of a sharded index: tensor -> shard file name (validated, no path escapes).
std::map<std::string, std::string> parse_safetensors_index(std::string_view json_text,
                                                           const std::string& path);

// A small text file (index, config) read whole; Error naming it when larger than `limit`.
std::string read_small_text(const std::string& path, std::size_t limit);

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

// The same, one tensor at a time (exports hold one tensor in memory): the header is written
// from the declarations, then each tensor's bytes in declaration order, then commit().
// Destroyed before commit(), it leaves nothing.
struct TensorDeclaration {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;  // outermost first
};

class SafetensorsStreamWriter {
public:
    SafetensorsStreamWriter(const std::string& path, std::vector<TensorDeclaration> tensors,
                            const std::map<std::string, std::string>& metadata = {});
    ~SafetensorsStreamWriter();
    void write_tensor(std::span<const std::byte> bytes);  // the next declared tensor's bytes
    void commit();

private:
    std::string path_;
    std::vector<TensorDeclaration> tensors_;
    std::vector<std::uint64_t> sizes_;
    std::size_t next_ = 0;
    std::unique_ptr<class AtomicFile> out_;
};

// Writes atomically; tensors in the given order, data aligned to 8 bytes.
void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace quantlens
