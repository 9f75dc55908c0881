#include "stats/input_rotation.hpp"

#include <Eigen/Dense>

#include <cmath>
#include <random>

namespace quantlens {

namespace {

// In-place normalised fast Walsh–Hadamard transform of n = 2^k values (Sylvester order).
void walsh_hadamard(float* x, std::int64_t n) {
    for (std::int64_t half = 1; half < n; half *= 2)
        for (std::int64_t start = 0; start < n; start += 2 * half)
            for (std::int64_t i = start; i < start + half; ++i) {
                float a = x[i], b = x[i + half];
                x[i] = a + b;
                x[i + half] = a - b;
            }
    const float norm = 1.0f / std::sqrt(static_cast<float>(n));
    for (std::int64_t i = 0; i < n; ++i)
        x[i] *= norm;
}

}  // namespace

InputRotation::InputRotation(std::int64_t dimension, std::uint64_t seed) : dimension_(dimension) {
    std::mt19937_64 rng(seed ^ 0x51ED270B27A5E1C3ull);
    std::int64_t power = dimension & -dimension;  // largest power of two dividing the dimension
    if (power >= 16) {
        block_ = power;
        signs_.resize(static_cast<std::size_t>(dimension));
        for (auto& sign : signs_)
            sign = (rng() & 1) ? 1.0f : -1.0f;
        return;
    }
    std::normal_distribution<double> normal;
    Eigen::MatrixXd gaussian(dimension, dimension);
    for (Eigen::Index i = 0; i < gaussian.size(); ++i)
        gaussian.data()[i] = normal(rng);
    Eigen::HouseholderQR<Eigen::MatrixXd> qr(gaussian);
    Eigen::MatrixXd q = qr.householderQ();
    dense_.resize(static_cast<std::size_t>(dimension * dimension));
    for (Eigen::Index r = 0; r < dimension; ++r)
        for (Eigen::Index c = 0; c < dimension; ++c)
            dense_[static_cast<std::size_t>(r * dimension + c)] = static_cast<float>(q(r, c));
}

void InputRotation::rotate(std::span<float> row) const {
    if (block_) {
        for (std::int64_t i = 0; i < dimension_; ++i)
            row[static_cast<std::size_t>(i)] *= signs_[static_cast<std::size_t>(i)];
        for (std::int64_t start = 0; start < dimension_; start += block_)
            walsh_hadamard(row.data() + start, block_);
        return;
    }
    Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> q(
        dense_.data(), dimension_, dimension_);
    Eigen::Map<Eigen::VectorXf> x(row.data(), dimension_);
    Eigen::VectorXf rotated = q * x;
    x = rotated;
}

void InputRotation::rotate_back(std::span<float> row) const {
    if (block_) {  // H is symmetric and orthogonal: Rᵀ = diag(±1)·H
        for (std::int64_t start = 0; start < dimension_; start += block_)
            walsh_hadamard(row.data() + start, block_);
        for (std::int64_t i = 0; i < dimension_; ++i)
            row[static_cast<std::size_t>(i)] *= signs_[static_cast<std::size_t>(i)];
        return;
    }
    Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> q(
        dense_.data(), dimension_, dimension_);
    Eigen::Map<Eigen::VectorXf> x(row.data(), dimension_);
    Eigen::VectorXf rotated = q.transpose() * x;
    x = rotated;
}

}  // namespace quantlens
