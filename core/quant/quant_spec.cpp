#include "quant/quant_spec.hpp"

#include <charconv>
#include <cctype>
#include <cmath>
#include <optional>
#include <sstream>

#include "util/error.hpp"

namespace quantlens {

namespace {

struct FormatEntry {
    const char* name;
    QuantFormat format;
    int bits;                 // element bits
    Granularity granularity;  // default
    std::int64_t group;       // default group / block size
};

const FormatEntry kFormats[] = {
    {"int", QuantFormat::Int, 8, Granularity::Channel, 0},
    {"fp8_e4m3", QuantFormat::Fp8E4M3, 8, Granularity::Tensor, 0},
    {"fp8_e5m2", QuantFormat::Fp8E5M2, 8, Granularity::Tensor, 0},
    {"fp6_e3m2", QuantFormat::Fp6E3M2, 6, Granularity::Tensor, 0},
    {"fp6_e2m3", QuantFormat::Fp6E2M3, 6, Granularity::Tensor, 0},
    {"fp4_e2m1", QuantFormat::Fp4E2M1, 4, Granularity::Tensor, 0},
    {"nf4", QuantFormat::NF4, 4, Granularity::Group, 64},  // bitsandbytes' default block
    {"mxfp8_e4m3", QuantFormat::MxFp8E4M3, 8, Granularity::Block, 32},
    {"mxfp8_e5m2", QuantFormat::MxFp8E5M2, 8, Granularity::Block, 32},
    {"mxfp6_e3m2", QuantFormat::MxFp6E3M2, 6, Granularity::Block, 32},
    {"mxfp6_e2m3", QuantFormat::MxFp6E2M3, 6, Granularity::Block, 32},
    {"mxfp4", QuantFormat::MxFp4, 4, Granularity::Block, 32},
    {"mxint8", QuantFormat::MxInt8, 8, Granularity::Block, 32},
    {"nvfp4", QuantFormat::NvFp4, 4, Granularity::Block, 16},
    {"q8_0", QuantFormat::Q8_0, 8, Granularity::Block, 32},
    {"q4_0", QuantFormat::Q4_0, 4, Granularity::Block, 32},
    {"q4_1", QuantFormat::Q4_1, 4, Granularity::Block, 32},
    {"q5_0", QuantFormat::Q5_0, 5, Granularity::Block, 32},
    {"q5_1", QuantFormat::Q5_1, 5, Granularity::Block, 32},
    {"q2_k", QuantFormat::Q2_K, 2, Granularity::Block, 256},
    {"q3_k", QuantFormat::Q3_K, 3, Granularity::Block, 256},
    {"q4_k", QuantFormat::Q4_K, 4, Granularity::Block, 256},
    {"q5_k", QuantFormat::Q5_K, 5, Granularity::Block, 256},
    {"q6_k", QuantFormat::Q6_K, 6, Granularity::Block, 256},
    {"iq4_nl", QuantFormat::IQ4_NL, 4, Granularity::Block, 32},
    {"iq4_xs", QuantFormat::IQ4_XS, 4, Granularity::Block, 256},
    {"tq1_0", QuantFormat::TQ1_0, 1, Granularity::Block, 256},  // 1.6 bits a trit: 1 + the rest
    {"tq2_0", QuantFormat::TQ2_0, 2, Granularity::Block, 256},
    {"iq2_xxs", QuantFormat::IQ2_XXS, 2, Granularity::Block, 256},  // the grid i-quants: bits a
    {"iq2_xs", QuantFormat::IQ2_XS, 2, Granularity::Block, 256},    // value rounded down, the
    {"iq2_s", QuantFormat::IQ2_S, 2, Granularity::Block, 256},      // rest counted as scale bits
    {"iq3_xxs", QuantFormat::IQ3_XXS, 3, Granularity::Block, 256},
    {"iq3_s", QuantFormat::IQ3_S, 3, Granularity::Block, 256},
    {"iq1_s", QuantFormat::IQ1_S, 1, Granularity::Block, 256},
    {"iq1_m", QuantFormat::IQ1_M, 1, Granularity::Block, 256},
    {"log2", QuantFormat::Log2, 4, Granularity::Channel, 0},
    {"ternary", QuantFormat::Ternary, 2, Granularity::Tensor, 0},
    {"binary", QuantFormat::Binary, 1, Granularity::Tensor, 0},
    {"f16", QuantFormat::F16, 16, Granularity::Tensor, 0},
    {"bf16", QuantFormat::BF16, 16, Granularity::Tensor, 0},
    {"f32", QuantFormat::F32, 32, Granularity::Tensor, 0},
};

const FormatEntry& entry_of(QuantFormat format) {
    for (const auto& entry : kFormats)
        if (entry.format == format)
            return entry;
    return kFormats[0];
}

const char* kAliases[][2] = {
    {"fp4", "fp4_e2m1"}, {"mxfp8", "mxfp8_e4m3"}, {"mxfp6", "mxfp6_e3m2"}, {"fp8", "fp8_e4m3"}};

template <class T>
bool parse_number(std::string_view text, T& value) {
    if (text.empty())
        return false;
    if constexpr (std::is_floating_point_v<T>) {
        std::string copy(text);
        char* end = nullptr;
        value = static_cast<T>(std::strtod(copy.c_str(), &end));
        return end == copy.c_str() + copy.size() && std::isfinite(value);
    } else {
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        return error == std::errc() && end == text.data() + text.size();
    }
}

// The shortest text that parses back to exactly this double, so the canonical form
// round-trips (found by fuzzing: 12 significant digits did not).
std::string number_text(double value) {
    char buffer[64];
    auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
    return error == std::errc() ? std::string(buffer, end) : std::to_string(value);
}

bool is_scaled(QuantFormat f) {
    return f == QuantFormat::Int || f == QuantFormat::Fp8E4M3 || f == QuantFormat::Fp8E5M2 ||
           f == QuantFormat::Fp6E3M2 || f == QuantFormat::Fp6E2M3 || f == QuantFormat::Fp4E2M1 ||
           f == QuantFormat::NF4 || f == QuantFormat::Log2 || f == QuantFormat::Ternary ||
           f == QuantFormat::Binary;
}

}  // namespace

const std::vector<std::string>& quant_format_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> list;
        for (int bits = 2; bits <= 8; ++bits)
            list.push_back("int" + std::to_string(bits));
        for (const auto& entry : kFormats)
            if (entry.format != QuantFormat::Int)
                list.push_back(entry.name);
        return list;
    }();
    return names;
}

bool QuantSpec::is_block_format() const {
    return granularity == Granularity::Block;
}
bool QuantSpec::is_cast() const {
    return format == QuantFormat::F16 || format == QuantFormat::BF16 || format == QuantFormat::F32;
}

int QuantSpec::element_bits() const {
    if (format == QuantFormat::Int || format == QuantFormat::Log2)
        return bits;
    return entry_of(format).bits;
}

double QuantSpec::scale_bits() const {
    switch (format) {
        case QuantFormat::MxFp8E4M3:
        case QuantFormat::MxFp8E5M2:
        case QuantFormat::MxFp6E3M2:
        case QuantFormat::MxFp6E2M3:
        case QuantFormat::MxFp4:
        case QuantFormat::MxInt8: return 8;  // E8M0
        case QuantFormat::NvFp4: return 8;   // E4M3 per block (+ one FP32 per tensor, counted apart)
        case QuantFormat::Q8_0:
        case QuantFormat::Q4_0:
        case QuantFormat::Q5_0: return 16;  // half d
        case QuantFormat::Q4_1:
        case QuantFormat::Q5_1:
            return 32;  // half d + half m
        // The super-block types: everything in a block but the element codes, per block of 256
        // (32 for IQ4_NL), so element bits + scale bits / block = the block's size in bits.
        case QuantFormat::Q2_K: return 84 * 8 - 2 * 256;
        case QuantFormat::Q3_K: return 110 * 8 - 3 * 256;
        case QuantFormat::Q4_K: return 144 * 8 - 4 * 256;
        case QuantFormat::Q5_K: return 176 * 8 - 5 * 256;
        case QuantFormat::Q6_K: return 210 * 8 - 6 * 256;
        case QuantFormat::IQ4_NL: return 16;
        case QuantFormat::IQ4_XS: return 136 * 8 - 4 * 256;
        case QuantFormat::TQ1_0: return 54 * 8 - 1 * 256;
        case QuantFormat::TQ2_0: return 66 * 8 - 2 * 256;
        case QuantFormat::IQ2_XXS: return 66 * 8 - 2 * 256;
        case QuantFormat::IQ2_XS: return 74 * 8 - 2 * 256;
        case QuantFormat::IQ2_S: return 82 * 8 - 2 * 256;
        case QuantFormat::IQ3_XXS: return 98 * 8 - 3 * 256;
        case QuantFormat::IQ3_S: return 110 * 8 - 3 * 256;
        case QuantFormat::IQ1_S: return 50 * 8 - 1 * 256;
        case QuantFormat::IQ1_M: return 56 * 8 - 1 * 256;
        case QuantFormat::F16:
        case QuantFormat::BF16:
        case QuantFormat::F32: return 0;
        case QuantFormat::Log2: return 8;  // a power of two: an exponent byte
        default: break;
    }
    switch (scale_storage) {
        case ScaleStorage::F32: return 32;
        case ScaleStorage::F16:
        case ScaleStorage::BF16: return 16;
        case ScaleStorage::E8M0: return 8;
    }
    return 32;
}

namespace {

// One option of the spec's text form: which formats take it, whether a part names it, and how
// it changes the spec (the reason when its value is wrong). The table drives both parsing and
// the "allowed:" list of the error message, so the two cannot disagree.
struct SpecOption {
    const char* help;  // as listed in "allowed: …"
    bool (*applies)(QuantFormat format);
    bool (*names)(std::string_view part);
    std::string (*apply)(std::string_view part, QuantSpec& spec);  // "" when applied
};

bool scaled(QuantFormat f) {
    return is_scaled(f);
}
bool integer(QuantFormat f) {
    return f == QuantFormat::Int;
}
bool log2(QuantFormat f) {
    return f == QuantFormat::Log2;
}
// Clipping, scale storage and the rounding methods: every scaled format but ternary and binary.
bool tunable(QuantFormat f) {
    return is_scaled(f) && f != QuantFormat::Ternary && f != QuantFormat::Binary;
}
bool not_cast(QuantFormat f) {
    return f != QuantFormat::F16 && f != QuantFormat::BF16 && f != QuantFormat::F32;
}

bool starts_with(std::string_view part, std::string_view prefix) {
    return part.substr(0, prefix.size()) == prefix;
}
std::string_view value_after(std::string_view part, std::string_view prefix) {
    return part.substr(prefix.size());
}

const SpecOption kOptions[] = {
    {"tensor", scaled, [](std::string_view p) { return p == "tensor"; },
     [](std::string_view, QuantSpec& s) {
         s.granularity = Granularity::Tensor, s.group_size = 0;
         return std::string();
     }},
    {"channel", scaled, [](std::string_view p) { return p == "channel"; },
     [](std::string_view, QuantSpec& s) {
         s.granularity = Granularity::Channel, s.group_size = 0;
         return std::string();
     }},
    {"g<N>", scaled,
     [](std::string_view p) {
         return p.size() > 1 && p[0] == 'g' && std::isdigit(static_cast<unsigned char>(p[1]));
     },
     [](std::string_view p, QuantSpec& s) {
         std::int64_t group = 0;
         if (!parse_number(p.substr(1), group) || group < 1 || group > (1 << 30))
             return std::string("group size must be a positive integer, e.g. g128");
         s.granularity = Granularity::Group;
         s.group_size = group;
         return std::string();
     }},
    {"sym", integer, [](std::string_view p) { return p == "sym"; },
     [](std::string_view, QuantSpec& s) {
         s.symmetric = true;
         return std::string();
     }},
    {"asym", integer, [](std::string_view p) { return p == "asym"; },
     [](std::string_view, QuantSpec& s) {
         s.symmetric = false;
         return std::string();
     }},
    {"full", integer, [](std::string_view p) { return p == "full"; },
     [](std::string_view, QuantSpec& s) {
         s.full_range = true;
         return std::string();
     }},
    {"<bits 2..8>", log2,
     [](std::string_view p) { return std::isdigit(static_cast<unsigned char>(p[0])) != 0; },
     [](std::string_view p, QuantSpec& s) {
         if (!parse_number(p, s.bits) || s.bits < 2 || s.bits > 8)
             return std::string("log2 takes 2 to 8 bits (1 sign bit + exponent)");
         return std::string();
     }},
    {"clip=minmax|mse|p<percentile>", tunable, [](std::string_view p) { return starts_with(p, "clip="); },
     [](std::string_view p, QuantSpec& s) {
         const auto value = value_after(p, "clip=");
         if (value == "minmax")
             s.clip = ClipMethod::MinMax;
         else if (value == "mse")
             s.clip = ClipMethod::Mse;
         else if (!value.empty() && value[0] == 'p' && parse_number(value.substr(1), s.percentile) &&
                  s.percentile > 0 && s.percentile <= 100)
             s.clip = ClipMethod::Percentile;
         else
             return std::string(
                 "clip is minmax, mse or p<percentile> with 0 < percentile <= 100, e.g. clip=p99.9");
         return std::string();
     }},
    {"scale=f32|f16|bf16|e8m0", tunable, [](std::string_view p) { return starts_with(p, "scale="); },
     [](std::string_view p, QuantSpec& s) {
         const auto value = value_after(p, "scale=");
         if (value == "f32")
             s.scale_storage = ScaleStorage::F32;
         else if (value == "f16")
             s.scale_storage = ScaleStorage::F16;
         else if (value == "bf16")
             s.scale_storage = ScaleStorage::BF16;
         else if (value == "e8m0")
             s.scale_storage = ScaleStorage::E8M0;
         else
             return std::string("scale storage is f32, f16, bf16 or e8m0");
         return std::string();
     }},
    {"round=rtn|stochastic|gptq", tunable, [](std::string_view p) { return starts_with(p, "round="); },
     [](std::string_view p, QuantSpec& s) {
         const auto value = value_after(p, "round=");
         if (value == "rtn")
             s.rounding = Rounding::Nearest;
         else if (value == "stochastic")
             s.rounding = Rounding::Stochastic;
         else if (value == "gptq")
             s.rounding = Rounding::Gptq;
         else
             return std::string("rounding is rtn, stochastic or gptq");
         return std::string();
     }},
    {"seed=<n>", tunable, [](std::string_view p) { return starts_with(p, "seed="); },
     [](std::string_view p, QuantSpec& s) {
         return parse_number(value_after(p, "seed="), s.seed) ? std::string()
                                                              : "seed must be a non-negative integer";
     }},
    {"actorder", tunable, [](std::string_view p) { return p == "actorder"; },
     [](std::string_view, QuantSpec& s) {
         s.act_order = true;
         return std::string();
     }},
    {"damp=<x>", tunable, [](std::string_view p) { return starts_with(p, "damp="); },
     [](std::string_view p, QuantSpec& s) {
         if (!parse_number(value_after(p, "damp="), s.damp) || s.damp < 0 || s.damp > 1)
             return std::string("damp is a fraction of mean(diag H) between 0 and 1, e.g. damp=0.01");
         return std::string();
     }},
    {"rot=hadamard", not_cast, [](std::string_view p) { return p == "rot=hadamard"; },
     [](std::string_view, QuantSpec& s) {
         s.rotation = Rotation::Hadamard;
         return std::string();
     }},
    {"rotseed=<n>", not_cast, [](std::string_view p) { return starts_with(p, "rotseed="); },
     [](std::string_view p, QuantSpec& s) {
         return parse_number(value_after(p, "rotseed="), s.rotation_seed)
                    ? std::string()
                    : "rotseed must be a non-negative integer";
     }},
    {"smooth=<alpha>", not_cast, [](std::string_view p) { return starts_with(p, "smooth="); },
     [](std::string_view p, QuantSpec& s) {
         if (!parse_number(value_after(p, "smooth="), s.smooth_alpha) || s.smooth_alpha < 0 ||
             s.smooth_alpha > 1)
             return std::string("smooth takes the migration strength alpha in [0, 1], e.g. smooth=0.5");
         return std::string();
     }},
};

// "tensor, channel, g<N>, …" for a format: the options it takes, in the table's order.
std::string allowed_options(QuantFormat format) {
    std::string allowed;
    for (const auto& option : kOptions)
        if (option.applies(format))
            allowed += (allowed.empty() ? "" : ", ") + std::string(option.help);
    return allowed.empty() ? "no options" : allowed;
}

// The format named by the spec's first part (aliases resolved), with its defaults.
std::optional<QuantSpec> spec_of_format(std::string name) {
    for (auto& alias : kAliases)
        if (name == alias[0])
            name = alias[1];
    QuantSpec spec;
    if (name.rfind("int", 0) == 0 && name.size() > 3) {
        spec.format = QuantFormat::Int;
        spec.granularity = Granularity::Channel;
        if (!parse_number(std::string_view(name).substr(3), spec.bits))
            spec.bits = 0;
        return spec;
    }
    for (const auto& entry : kFormats)
        if (name == entry.name && entry.format != QuantFormat::Int) {
            spec.format = entry.format;
            spec.bits = entry.bits;
            spec.granularity = entry.granularity;
            spec.group_size = entry.group;
            return spec;
        }
    return std::nullopt;
}

}  // namespace

QuantSpec QuantSpec::parse(std::string_view text) {
    const std::string whole(text);
    auto fail = [&](const std::string& part, const std::string& reason) -> QuantSpec {
        throw Error("", "spec \"" + whole + "\"", (part.empty() ? "" : "\"" + part + "\": ") + reason);
    };
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        auto colon = text.find(':', start);
        parts.emplace_back(
            text.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
        if (colon == std::string_view::npos)
            break;
        start = colon + 1;
    }
    auto found = spec_of_format(parts.front());
    if (!found) {
        std::string names;
        for (const auto& n : quant_format_names())
            names += (names.empty() ? "" : ", ") + n;
        return fail(parts.front(), "unknown format; expected one of " + names);
    }
    QuantSpec spec = *found;
    if (spec.format == QuantFormat::Int && (spec.bits < 2 || spec.bits > 8))
        return fail(parts.front(), "integer formats are int2 to int8");

    for (std::size_t i = 1; i < parts.size(); ++i) {
        const std::string& part = parts[i];
        if (part.empty())
            return fail(part, "empty option (two colons in a row?)");
        const SpecOption* option = nullptr;
        for (const auto& candidate : kOptions)
            if (candidate.applies(spec.format) && candidate.names(part)) {
                option = &candidate;
                break;
            }
        if (!option)
            return fail(part,
                        "not an option of " + parts.front() + "; allowed: " + allowed_options(spec.format));
        if (const auto reason = option->apply(part, spec); !reason.empty())
            return fail(part, reason);
    }
    if (spec.full_range && !spec.symmetric)
        return fail("full", "full range applies to symmetric integers only (asym already uses every code)");
    if (spec.format == QuantFormat::Ternary || spec.format == QuantFormat::Binary)
        spec.clip = ClipMethod::MinMax;
    if (spec.rounding != Rounding::Gptq && (spec.act_order || spec.damp != 0.01))
        return fail("actorder/damp", "apply to round=gptq only");
    if (spec.rounding != Rounding::Stochastic && spec.seed != 0)
        return fail("seed", "applies to round=stochastic only");
    if (spec.rotation == Rotation::None && spec.rotation_seed != 0)
        return fail("rotseed", "applies to rot=hadamard only");
    return spec;
}

std::string QuantSpec::to_string() const {
    std::string text = format == QuantFormat::Int ? std::string("int").append(std::to_string(bits))
                                                  : std::string(entry_of(format).name);
    auto add = [&text](const std::string& part) {
        text += ":" + part;
    };
    if (format == QuantFormat::Log2)
        add(std::to_string(bits));
    if (is_scaled(format)) {
        if (granularity == Granularity::Tensor)
            add("tensor");
        else if (granularity == Granularity::Channel)
            add("channel");
        else
            add(std::string("g").append(std::to_string(group_size)));
    }
    if (format == QuantFormat::Int)
        add(symmetric ? "sym" : "asym");
    if (full_range)
        add("full");
    if (clip == ClipMethod::Mse)
        add("clip=mse");
    if (clip == ClipMethod::Percentile)
        add("clip=p" + number_text(percentile));
    if (scale_storage == ScaleStorage::F16)
        add("scale=f16");
    if (scale_storage == ScaleStorage::BF16)
        add("scale=bf16");
    if (scale_storage == ScaleStorage::E8M0)
        add("scale=e8m0");
    if (rounding == Rounding::Stochastic)
        add("round=stochastic");
    if (rounding == Rounding::Gptq)
        add("round=gptq");
    if (seed != 0)
        add("seed=" + std::to_string(seed));
    if (act_order)
        add("actorder");
    if (damp != 0.01)
        add("damp=" + number_text(damp));
    if (rotation == Rotation::Hadamard)
        add("rot=hadamard");
    if (rotation_seed != 0)
        add("rotseed=" + std::to_string(rotation_seed));
    if (smooth_alpha >= 0)
        add("smooth=" + number_text(smooth_alpha));
    return text;
}

}  // namespace quantlens
