#include "io/open_model.hpp"

#include <cstring>
#include <filesystem>

#include "io/gguf.hpp"
#include "io/hdf5.hpp"
#include "io/numpy.hpp"
#include "io/onnx.hpp"
#include "io/safetensors.hpp"
#include "util/error.hpp"
#include "util/mapped_file.hpp"

namespace quantlens {

namespace fs = std::filesystem;

namespace {

using Opener = std::unique_ptr<ModelFile> (*)(const std::string&);

struct Detector {
    const char* format;
    const char* description;
    bool (*probe)(std::string_view prefix, std::uint64_t size);
    Opener open;
};

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

bool is_hdf5(std::string_view prefix, std::uint64_t) {
    // The superblock sits at 0 or, after a user block, at 512, 1024, 2048, ...
    for (std::size_t at = 0; at + 8 <= prefix.size(); at = at ? at * 2 : 512)
        if (prefix.substr(at, 8) == std::string_view("\x89HDF\r\n\x1a\n", 8))
            return true;
    return false;
}

bool is_zip(std::string_view prefix, std::uint64_t) {
    return starts_with(prefix, std::string_view("PK\x03\x04", 4));
}

std::unique_ptr<ModelFile> open_zip(const std::string& path) {
    auto file = MappedFile::open(path);
    for (const auto& member : parse_zip_directory(file->bytes(), path))
        if (member.name == "config.json" || member.name == "model.weights.h5" ||
            member.name == "metadata.json")
            throw Error(path, "",
                        "this is a Keras 3 .keras archive; unzip it and open model.weights.h5 inside, or "
                        "save the model as .h5");
    return open_npz(path);
}

const Detector kDetectors[] = {
    {"gguf", "GGUF v2/v3 (llama.cpp)",
     [](std::string_view p, std::uint64_t) { return starts_with(p, "GGUF"); }, open_gguf},
    {"npy", "NumPy .npy", [](std::string_view p, std::uint64_t) { return starts_with(p, "\x93NUMPY"); },
     open_npy},
    {"npz", "NumPy .npz (zip of .npy)", is_zip, open_zip},
    {"hdf5", "HDF5 / Keras .h5", is_hdf5, open_hdf5},
    {"safetensors", "safetensors",
     [](std::string_view p, std::uint64_t size) {
         return looks_like_safetensors({reinterpret_cast<const std::byte*>(p.data()), p.size()}, size);
     },
     open_safetensors},
    {"safetensors-index", "sharded safetensors index (*.safetensors.index.json)",
     [](std::string_view p, std::uint64_t) {
         return starts_with(p, "{") && p.find("\"weight_map\"") != std::string_view::npos;
     },
     open_safetensors_index},
    {"onnx", "ONNX ModelProto", [](std::string_view p, std::uint64_t) { return looks_like_onnx(p); },
     open_onnx},
};

}  // namespace

const std::vector<ReaderEntry>& supported_formats() {
    static const std::vector<ReaderEntry> formats = [] {
        std::vector<ReaderEntry> list{{"huggingface folder", "folder with config.json and *.safetensors"}};
        for (const auto& detector : kDetectors)
            list.push_back({detector.format, detector.description});
        return list;
    }();
    return formats;
}

std::string detect_format(const std::string& path) {
    if (fs::is_directory(path))
        return "huggingface folder";
    auto prefix = read_prefix(path, 4096);
    auto size = fs::file_size(path);
    for (const auto& detector : kDetectors)
        if (detector.probe(prefix, size))
            return detector.format;
    return {};
}

std::unique_ptr<ModelFile> open_model_file(const std::string& path) {
    std::error_code error;
    if (!fs::exists(path, error))
        throw Error(path, "", "no such file or folder");
    if (fs::is_directory(path))
        return open_hf_folder(path);
    auto prefix = read_prefix(path, 4096);
    auto size = fs::file_size(path);
    for (const auto& detector : kDetectors)
        if (detector.probe(prefix, size))
            return detector.open(path);
    std::string known;
    for (const auto& format : supported_formats())
        known += std::string(known.empty() ? "" : ", ") + format.description;
    std::string first;
    static const char* kHex = "0123456789abcdef";
    for (std::size_t i = 0; i < std::min<std::size_t>(8, prefix.size()); ++i) {
        auto byte = static_cast<unsigned char>(prefix[i]);
        first += std::string(first.empty() ? "" : " ") + kHex[byte >> 4] + kHex[byte & 15];
    }
    throw Error(path, at_byte(0),
                "unrecognised format (first bytes: " +
                    (first.empty() ? std::string("file is empty") : first) + "); QuantLens reads " + known);
}

}  // namespace quantlens
