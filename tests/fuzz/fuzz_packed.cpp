// Any bytes as a safetensors file read back as compressed-tensors pack-quantized modules:
// dequantize_packed_module returns or throws quantlens::Error for every scheme, nothing else
// (every size is checked against weight_shape before anything is indexed).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

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
        for (const auto& info : model->tensors()) {
            const std::string suffix = ".weight_packed";
            if (info.name.size() < suffix.size() ||
                info.name.compare(info.name.size() - suffix.size(), suffix.size(), suffix) != 0)
                continue;
            const auto module = info.name.substr(0, info.name.size() - suffix.size());
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
