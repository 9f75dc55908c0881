#pragma once
// A size budget for a quantization plan: average bits per weight over the quantized layers
// ("4.5bpw"), or the size of the model's weights in bytes ("2.1GB", "1.5GiB", "800MB").
#include <cstdint>
#include <string>
#include <string_view>

namespace quantlens {

struct Budget {
    enum class Kind { BitsPerWeight, Bytes };
    Kind kind = Kind::BitsPerWeight;
    double value = 0;

    // Error naming the text for anything else; KB/MB/GB/TB are powers of 1000, KiB… of 1024.
    static Budget parse(std::string_view text);
    std::string to_string() const;
};

}  // namespace quantlens
