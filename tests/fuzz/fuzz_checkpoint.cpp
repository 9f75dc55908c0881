// Any bytes as a Hugging Face folder holding a quantized checkpoint: the bytes before the first
// NUL are config.json (its quantization_config picks GPTQ, AWQ, MLX, ...), the rest
// model.safetensors. Opening and reading every weight returns or throws quantlens::Error, nothing
// else: the packed-weight readers (io/checkpoint_quantized.cpp) check every part's size before
// dequantize_checkpoint indexes it. Seeds: the checkpoints under tests/data/checkpoints.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "model/model.hpp"
#include "util/error.hpp"

namespace {

void write(const std::string& path, const std::uint8_t* data, std::size_t size) {
    if (FILE* file = std::fopen(path.c_str(), "wb")) {
        std::fwrite(data, 1, size, file);
        std::fclose(file);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string folder = "/tmp/quantlens-fuzz-checkpoint-" + std::to_string(getpid());
    std::filesystem::create_directories(folder);
    const auto* split = static_cast<const std::uint8_t*>(std::memchr(data, 0, size));
    const std::size_t config_size = split ? static_cast<std::size_t>(split - data) : 0;
    write(folder + "/config.json", data, config_size);
    const std::size_t rest = split ? size - config_size - 1 : size;
    write(folder + "/model.safetensors", split ? split + 1 : data, rest);
    try {
        const auto model = quantlens::Model::open(folder);
        for (const auto& layer : model.layers()) {
            try {
                (void)model.read_weights(layer);
            } catch (const quantlens::Error&) {
            }
        }
    } catch (const quantlens::Error&) {
    }
    return 0;
}
