#include "quant/transforms.hpp"

#include <cmath>

#include "util/error.hpp"

namespace quantlens {

std::vector<float> smoothing_scales(const WeightMatrix& w, const CalibrationInputs& inputs, double alpha) {
    if (inputs.features != w.cols)
        throw Error("", "calibration inputs",
                    "have " + std::to_string(inputs.features) +
                        " features but the layer's input dimension is " + std::to_string(w.cols));
    std::vector<float> scales(static_cast<std::size_t>(w.cols), 1.0f);
    for (std::int64_t j = 0; j < w.cols; ++j) {
        float activation = 0, weight = 0;
        for (std::int64_t s = 0; s < inputs.samples; ++s)
            activation =
                std::max(activation, std::fabs(inputs.values[static_cast<std::size_t>(s * w.cols + j)]));
        for (std::int64_t r = 0; r < w.rows; ++r)
            weight = std::max(weight, std::fabs(w.values[static_cast<std::size_t>(r * w.cols + j)]));
        if (activation > 0 && weight > 0)
            scales[static_cast<std::size_t>(j)] =
                static_cast<float>(std::pow(activation, alpha) / std::pow(weight, 1 - alpha));
    }
    return scales;
}

}  // namespace quantlens
