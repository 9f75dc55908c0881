// ONNX: the reader's graph walk (initializers and Constant nodes of the main graph and of every
// If/Loop/Scan subgraph, scoping, layer building) and its tensor reads, on any bytes written as
// model.onnx in a folder of the target's own. Every outcome is a model or quantlens::Error:
// names in cycles or shadowing, huge dims, raw data shorter than its dims, external data naming
// files outside that folder (refused), nesting past protobuf's limit.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "model/inspection.hpp"
#include "model/model.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string folder = [] {
        const auto path =
            std::filesystem::temp_directory_path() / ("quantlens-fuzz-onnx-" + std::to_string(::getpid()));
        std::filesystem::create_directories(path);
        return path.string();
    }();
    const std::string path = folder + "/model.onnx";
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    try {
        const auto model = quantlens::Model::open(path);
        for (const auto& info : model.file().tensors())
            model.file().read(info);
        quantlens::inspect_model(model, false);
    } catch (const quantlens::Error&) {
    }
    return 0;
}
