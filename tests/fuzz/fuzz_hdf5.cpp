// HDF5 and Keras .h5: the reader (and libhdf5 under it, in its forked check) on mutated real Keras
// files. The mutator keeps a file's size and overwrites a few bytes in place with the values that
// break HDF5 metadata (0x00, 0x01, 0x7F, 0x80, 0xFF, runs of them): sizes, offsets and flags of
// object headers and B-trees, as the crashes found by hand did. Half the time libFuzzer's own
// mutations run instead.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>

#include "io/open_model.hpp"
#include "util/error.hpp"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
    std::minstd_rand random(seed);
    if (size < 16 || random() % 2 == 0)
        return LLVMFuzzerMutate(data, size, max_size);
    static const std::uint8_t kValues[] = {0x00, 0x01, 0x7F, 0x80, 0xFF};
    const std::size_t edits = 1 + random() % 3;
    for (std::size_t e = 0; e < edits; ++e) {
        const std::size_t at = random() % size, run = 1 + random() % 8;
        const std::uint8_t value = kValues[random() % sizeof kValues];
        for (std::size_t i = at; i < size && i < at + run; ++i)
            data[i] = value;
    }
    return size;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string path = "/tmp/quantlens-fuzz-hdf5-" + std::to_string(::getpid()) + ".h5";
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    try {
        const auto file = quantlens::open_model_file(path);
        for (const auto& info : file->tensors())
            file->read(info);
    } catch (const quantlens::Error&) {
    }
    return 0;
}
