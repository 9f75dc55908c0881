#include "quant/ggml_fallback.hpp"

namespace quantlens {

namespace {

// A bare ggml type spec (no option that would make it something llama-quantize cannot write).
bool bare_ggml(const QuantSpec& spec) {
    const auto text = spec.to_string();
    for (const char* name : {"q4_0",    "q4_1",   "q5_0",  "q5_1",    "q8_0",   "q2_k",  "q3_k",
                             "q4_k",    "q5_k",   "q6_k",  "iq4_nl",  "iq4_xs", "tq1_0", "tq2_0",
                             "iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s",  "iq1_s", "iq1_m"})
        if (text == name)
            return true;
    return false;
}

// The 32-value type a 256-value type steps down to; the spec itself for the 32-value types.
QuantSpec smaller_block(const QuantSpec& spec) {
    switch (spec.format) {
        case QuantFormat::IQ1_S:
        case QuantFormat::IQ1_M:
        case QuantFormat::IQ2_XXS:
        case QuantFormat::IQ2_XS:
        case QuantFormat::IQ2_S:
        case QuantFormat::IQ3_XXS:
        case QuantFormat::IQ3_S:
        case QuantFormat::IQ4_XS: return QuantSpec::parse("iq4_nl");
        case QuantFormat::Q2_K:
        case QuantFormat::Q3_K:
        case QuantFormat::TQ1_0:
        case QuantFormat::TQ2_0: return QuantSpec::parse("q4_0");
        case QuantFormat::Q4_K: return QuantSpec::parse("q5_0");
        case QuantFormat::Q5_K: return QuantSpec::parse("q5_1");
        case QuantFormat::Q6_K: return QuantSpec::parse("q8_0");
        default: return spec;
    }
}

}  // namespace

QuantSpec ggml_fallback(const QuantSpec& spec, std::int64_t row_length) {
    if (!bare_ggml(spec) || spec.group_size <= 0 || row_length % spec.group_size == 0)
        return spec;
    const QuantSpec smaller = smaller_block(spec);
    if (smaller.group_size > 0 && row_length % smaller.group_size == 0)
        return smaller;
    return QuantSpec::parse("f16");
}

std::vector<QuantSpec> ggml_fallback_chain(const QuantSpec& spec) {
    if (!bare_ggml(spec))
        return {};
    std::vector<QuantSpec> chain;
    if (const auto smaller = smaller_block(spec); !(smaller == spec))
        chain.push_back(smaller);
    chain.push_back(QuantSpec::parse("f16"));
    return chain;
}

}  // namespace quantlens
