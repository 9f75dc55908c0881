// Any bytes as a safetensors file read back as compressed-tensors pack-quantized modules, both
// ways: the reader's folded weight (io/checkpoint_quantized.cpp) and dequantize_packed_module for
// every scheme return or throw quantlens::Error, nothing else (every size is checked against
// weight_shape before anything is indexed).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "export/compressed_tensors.hpp"
#include "io/safetensors.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string path = "/tmp/quantlens-fuzz-packed-" + std::to_string(getpid()) + ".safetensors";
    if (FILE* file = std::fopen(path.c_str(), "wb")) {
        std::fwrite(data, 1, size, file);
        std::fclose(file);
    }
    try {
        const auto model = quantlens::open_safetensors(path);
        std::vector<std::string> names;
        for (const auto& info : model->tensors()) {
            try {
                (void)model->read_f32(info);
            } catch (const quantlens::Error&) {
            }
            names.push_back(info.name);
        }
        for (const auto& missing : model->left_out())
            names.push_back(missing.name);
        for (const auto& name : names) {
            const std::string suffix = ".weight";
            if (name.size() < suffix.size() ||
                name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
                continue;
            const auto module = name.substr(0, name.size() - suffix.size());
            for (int bits : {4, 8})
                for (bool symmetric : {true, false})
                    for (const char* strategy : {"tensor", "channel", "group"}) {
                        try {
                            quantlens::dequantize_packed_module(*model, module,
                                                                {{"num_bits", bits},
                                                                 {"symmetric", symmetric},
                                                                 {"strategy", strategy},
                                                                 {"group_size", 8}});
                        } catch (const quantlens::Error&) {
                        }
                    }
        }
    } catch (const quantlens::Error&) {
    }
    return 0;
}
