#include "nn/rope.hpp"

#include <algorithm>
#include <cmath>

#include "util/error.hpp"

namespace quantlens::nn {

namespace {

struct Reader {
    const nlohmann::json& parameters;
    const std::string& path;
    const std::string& field;

    [[noreturn]] void fail(const std::string& key, const std::string& message) const {
        throw Error(path, field + "." + key, message);
    }
    bool has(const char* key) const { return parameters.contains(key) && !parameters[key].is_null(); }
    double number(const char* key) const {
        if (!has(key))
            fail(key, "is missing");
        return optional(key, 0);
    }
    double optional(const char* key, double fallback) const {
        if (!has(key))
            return fallback;
        if (!parameters[key].is_number() || !std::isfinite(parameters[key].get<double>()))
            fail(key, "must be a number");
        return parameters[key].get<double>();
    }
    double positive(const char* key, double fallback) const {
        if (!has(key) && !(fallback > 0))
            fail(key, "is missing");
        const double value = optional(key, fallback);
        if (!(value > 0))
            fail(key, "must be positive");
        return value;
    }
};

// θ^(−2i/dim) for i < dim/2: the unscaled frequencies every type starts from.
std::vector<double> default_inv_freq(double theta, int dim) {
    std::vector<double> inv_freq(static_cast<std::size_t>(dim / 2));
    for (std::size_t i = 0; i < inv_freq.size(); ++i)
        inv_freq[i] = 1.0 / std::pow(theta, 2.0 * static_cast<double>(i) / dim);
    return inv_freq;
}

// Llama 3.1: wavelengths longer than original/low_freq_factor are divided by the factor,
// shorter than original/high_freq_factor kept, and those between interpolated smoothly.
void llama3(const Reader& r, std::vector<double>& inv_freq) {
    const double factor = r.positive("factor", 0), low = r.positive("low_freq_factor", 0),
                 high = r.positive("high_freq_factor", 0),
                 original = r.positive("original_max_position_embeddings", 0);
    if (!(high > low))
        r.fail("high_freq_factor", "must be greater than low_freq_factor");
    const double low_wavelength = original / low, high_wavelength = original / high;
    for (auto& f : inv_freq) {
        const double wavelength = 2 * M_PI / f;
        if (wavelength > low_wavelength) {
            f /= factor;
        } else if (!(wavelength < high_wavelength)) {
            const double smooth = (original / wavelength - low) / (high - low);
            f = (1 - smooth) * f / factor + smooth * f;
        }
    }
}

double yarn_mscale(double scale, double mscale) {
    return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

// YaRN (Peng et al. 2023): frequencies blend between extrapolated (θ^(−2i/d)) and interpolated
// (divided by the factor) over a ramp of dimensions found from beta_fast and beta_slow
// rotations over the original context; cos and sin are multiplied by the attention factor.
double yarn(const Reader& r, double theta, int dim, std::int64_t max_positions,
            std::vector<double>& inv_freq) {
    const double original =
        r.positive("original_max_position_embeddings", static_cast<double>(max_positions));
    const double factor = r.positive("factor", static_cast<double>(max_positions) / original);
    double attention = r.optional("attention_factor", 0);
    if (!r.has("attention_factor")) {
        const double mscale = r.optional("mscale", 0), all_dims = r.optional("mscale_all_dim", 0);
        attention = mscale != 0 && all_dims != 0 ? yarn_mscale(factor, mscale) / yarn_mscale(factor, all_dims)
                                                 : yarn_mscale(factor, 1);
    }
    // transformers writes `get("beta_fast") or 32`: a 0 there means the default too
    const double fast = r.optional("beta_fast", 0) != 0 ? r.positive("beta_fast", 32) : 32,
                 slow = r.optional("beta_slow", 0) != 0 ? r.positive("beta_slow", 1) : 1;
    if (!(theta > 1))
        r.fail("rope_theta", "must be greater than 1 for yarn");
    bool truncate = true;
    if (r.has("truncate")) {
        if (!r.parameters["truncate"].is_boolean())
            r.fail("truncate", "must be true or false");
        truncate = r.parameters["truncate"].get<bool>();
    }
    const auto correction_dim = [&](double rotations) {
        return dim * std::log(original / (rotations * 2 * M_PI)) / (2 * std::log(theta));
    };
    double low = correction_dim(fast), high = correction_dim(slow);
    if (truncate) {
        low = std::floor(low);
        high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, static_cast<double>(dim - 1));
    if (low == high)
        high += 0.001;  // as transformers, to avoid dividing by zero
    for (std::size_t i = 0; i < inv_freq.size(); ++i) {
        const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
        const double extrapolation = 1 - ramp;
        inv_freq[i] = inv_freq[i] / factor * (1 - extrapolation) + inv_freq[i] * extrapolation;
    }
    return attention;
}

}  // namespace

RotaryParameters rotary_parameters(const nlohmann::json& parameters, int dim, std::int64_t max_positions,
                                   const std::string& path, const std::string& field) {
    if (!parameters.is_null() && !parameters.is_object())
        throw Error(path, field, "must be an object");
    static const nlohmann::json none = nlohmann::json::object();
    const Reader r{parameters.is_null() ? none : parameters, path, field};
    std::string type = "default";
    for (const char* key : {"rope_type", "type"})
        if (r.has(key)) {
            if (!r.parameters[key].is_string())
                r.fail(key, "must be a string");
            type = r.parameters[key].get<std::string>();
            break;
        }
    if (r.has("partial_rotary_factor") && r.optional("partial_rotary_factor", 1) != 1)
        r.fail("partial_rotary_factor", "other than 1 is not supported (the whole head is rotated)");
    const double theta = r.positive("rope_theta", 10000.0);
    RotaryParameters result;
    result.inv_freq = default_inv_freq(theta, dim);
    if (type == "default") {
    } else if (type == "linear") {
        const double factor = r.positive("factor", 0);
        for (auto& f : result.inv_freq)
            f /= factor;
    } else if (type == "dynamic") {
        // Dynamic NTK only changes the base for sequences longer than max_position_embeddings,
        // which the builder refuses: within them it is the default.
        r.positive("factor", 0);
    } else if (type == "llama3") {
        llama3(r, result.inv_freq);
    } else if (type == "yarn") {
        result.factor = yarn(r, theta, dim, max_positions, result.inv_freq);
    } else {
        throw Error(path, field + ".rope_type",
                    "\"" + type + "\" is not supported (default, linear, dynamic, yarn, llama3)");
    }
    for (double f : result.inv_freq)
        if (!std::isfinite(f) || !std::isfinite(result.factor))
            throw Error(path, field, "gives rotary frequencies that are not finite numbers");
    return result;
}

}  // namespace quantlens::nn
