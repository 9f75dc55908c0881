// llama.cpp importance matrices, both formats (GGUF and the legacy .dat), from a file the
// target writes: the reader maps files by path, as it does for a user's --imatrix.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "io/imatrix.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string path = "/tmp/quantlens-fuzz-imatrix-" + std::to_string(::getpid()) + ".dat";
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    try {
        quantlens::read_importance_matrix(path);
    } catch (const quantlens::Error&) {
    }
    return 0;
}
