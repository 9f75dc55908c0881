// JSON configs: sharded-safetensors indexes and Keras model_config.
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/hdf5.hpp"
#include "io/safetensors.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        quantlens::parse_safetensors_index(text, "fuzz.index.json");
    } catch (const quantlens::Error&) {
    }
    try {
        quantlens::keras_layers(text, {{"dense", {"model_weights/dense/dense/kernel:0", "model_weights/dense/dense/bias:0"}}, {"conv", {"conv/depthwise_kernel:0"}}},
                                "fuzz.h5");
    } catch (const quantlens::Error&) {
    }
    return 0;
}
