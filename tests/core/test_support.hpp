#pragma once
// Shared helpers for the core tests: a scratch folder, byte builders and golden loading.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <random>
#include <string>
#include <vector>

#include "io/open_model.hpp"
#include "io/safetensors.hpp"
#include "util/error.hpp"

namespace quantlens::test {

inline std::string data_path(const std::string& name) {
    return std::string(QUANTLENS_TEST_DATA) + "/" + name;
}
inline std::string sample_path(const std::string& name) {
    return std::string(QUANTLENS_SAMPLES) + "/" + name;
}
// A third-party model scripts/fetch-models.sh puts under external/ (scripts/test.sh runs it).
inline std::string external_path(const std::string& name) {
    auto path = std::string(QUANTLENS_EXTERNAL) + "/" + name;
    if (!std::filesystem::exists(path))
        throw std::runtime_error(path + " is missing: scripts/fetch-models.sh fetches it");
    return path;
}

// A fresh folder per test case, removed afterwards.
class ScratchDir {
public:
    ScratchDir() {
        static std::mt19937_64 rng{std::random_device{}()};
        path_ = std::filesystem::temp_directory_path() / ("quantlens-test-" + std::to_string(rng()));
        std::filesystem::create_directories(path_);
    }
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

template <class T>
void put(std::string& out, T value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// Rewrites the ggml type id of tensor `name` in a GGUF file's tensor infos (name, n_dims,
// ne[n_dims], type): a way to write a type id the writer does not know.
inline void relabel_gguf_tensor_type(const std::string& path, const std::string& name, std::uint32_t type) {
    std::string bytes = read_bytes(path);
    std::string key;
    put<std::uint64_t>(key, name.size());
    key += name;
    const auto at = bytes.find(key);
    if (at == std::string::npos)
        throw std::runtime_error("relabel_gguf_tensor_type: no tensor " + name);
    std::uint32_t n_dims;
    std::memcpy(&n_dims, bytes.data() + at + key.size(), 4);
    std::memcpy(bytes.data() + at + key.size() + 4 + 8 * n_dims, &type, 4);
    write_bytes(path, bytes);
}

inline std::string safetensors_bytes(const std::string& header_json, const std::string& data) {
    std::string out;
    put<std::uint64_t>(out, header_json.size());
    return out + header_json + data;
}

template <class T>
std::vector<T> golden_values(const std::string& npy_name) {
    auto file = open_model_file(data_path("golden/" + npy_name));
    const auto& info = file->tensors().front();
    auto stored = file->read(info);
    auto bytes = stored.bytes();
    std::vector<T> values(bytes.size() / sizeof(T));
    std::memcpy(values.data(), bytes.data(), bytes.size());
    return values;
}

template <class T>
std::span<const std::byte> as_bytes_of(const std::vector<T>& values) {
    return {reinterpret_cast<const std::byte*>(values.data()), values.size() * sizeof(T)};
}

}  // namespace quantlens::test
