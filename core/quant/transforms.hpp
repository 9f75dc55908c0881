#pragma once
// Transforms previewed before quantization (docs/formats.md "Rotations and smoothing"):
// - randomized Hadamard rotation of the input dimension: InputRotation (stats/input_rotation.hpp);
// - SmoothQuant/AWQ-style smoothing: s_j = max|X_j|^α / max|W_:,j|^(1−α), W' = W·diag(s).
#include <vector>

#include "quant/quantizer.hpp"

namespace quantlens {

std::vector<float> smoothing_scales(const WeightMatrix& w, const CalibrationInputs& inputs, double alpha);

}  // namespace quantlens
