#pragma once
// GGUF v2/v3 (docs/formats.md §6): header, typed metadata, tensor infos, aligned data.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/model_file.hpp"
#include "io/safetensors.hpp"  // TensorToWrite
#include "util/atomic_file.hpp"

namespace quantlens {

enum class GgufType : std::uint32_t {
    UINT8 = 0,
    INT8 = 1,
    UINT16 = 2,
    INT16 = 3,
    UINT32 = 4,
    INT32 = 5,
    FLOAT32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    UINT64 = 10,
    INT64 = 11,
    FLOAT64 = 12,
};

struct GgufValue {
    std::string key;
    GgufType type;
    std::string raw;       // the value's encoded bytes, exactly as in the file (for re-export)
    nlohmann::json value;  // decoded, for display and look-ups
};

struct GgufTensorEntry {
    TensorInfo info;
    std::uint32_t ggml_type = 0;
    std::uint64_t offset = 0;  // relative to the data section
};

struct GgufHeader {
    std::uint32_t version = 0;
    std::vector<GgufValue> metadata;
    std::vector<GgufTensorEntry> tensors;
    std::uint32_t alignment = 32;
    std::uint64_t data_start = 0;
};

GgufHeader parse_gguf(std::span<const std::byte> file, const std::string& path);
std::unique_ptr<ModelFile> open_gguf(const std::string& path);

// ggml_type ids (ggml.h enum ggml_type) <-> DType.
std::optional<DType> dtype_from_ggml(std::uint32_t ggml_type);
std::optional<std::uint32_t> ggml_from_dtype(DType dtype);

// Encoders for metadata values written by QuantLens itself.
GgufValue gguf_string(std::string key, const std::string& value);
GgufValue gguf_u32(std::string key, std::uint32_t value);
GgufValue gguf_f32(std::string key, float value);
GgufValue gguf_string_array(std::string key, const std::vector<std::string>& values);

// Writes GGUF v3 atomically. `metadata` values are written verbatim from their raw bytes;
// a general.alignment entry, if present, sets the alignment (else 32).
void write_gguf(const std::string& path, const std::vector<GgufValue>& metadata,
                const std::vector<TensorToWrite>& tensors);

// The same, one tensor at a time, so an exporter holds one tensor in memory: the header is
// written from the declarations (the sizes follow from dtype and shape), then each tensor's
// bytes in declaration order, then commit(). Destroyed before commit(), it leaves nothing.
struct GgufTensorDeclaration {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;  // outermost first
};

class GgufStreamWriter {
public:
    GgufStreamWriter(const std::string& path, const std::vector<GgufValue>& metadata,
                     std::vector<GgufTensorDeclaration> tensors);
    void write_tensor(std::span<const std::byte> bytes);  // the next declared tensor's bytes
    void commit();                                        // every tensor written

private:
    std::string path_;
    std::vector<GgufTensorDeclaration> tensors_;
    std::vector<std::uint64_t> sizes_;
    std::size_t next_ = 0;
    std::uint32_t alignment_ = 32;
    std::unique_ptr<AtomicFile> out_;
};

}  // namespace quantlens
