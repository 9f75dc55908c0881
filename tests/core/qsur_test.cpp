#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <numbers>
#include <random>

#include <Eigen/Dense>

#include "stats/input_rotation.hpp"
#include "stats/covariance_spectrum.hpp"
#include "stats/qsur.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {

// n samples of N(mean, Σ) with Σ = Q·diag(λ)·Qᵀ, row-major floats.
std::vector<float> gaussian_samples(std::int64_t n, const Eigen::MatrixXd& covariance, double mean,
                                    std::uint64_t seed) {
    const Eigen::MatrixXd factor = Eigen::LLT<Eigen::MatrixXd>(covariance).matrixL();
    const auto d = covariance.rows();
    std::mt19937_64 random(seed);
    std::normal_distribution<double> normal;
    std::vector<float> out;
    Eigen::VectorXd z(d);
    for (std::int64_t i = 0; i < n; ++i) {
        for (Eigen::Index j = 0; j < d; ++j)
            z[j] = normal(random);
        const Eigen::VectorXd x = factor * z;
        for (Eigen::Index j = 0; j < d; ++j)
            out.push_back(static_cast<float>(x[j] + mean));
    }
    return out;
}

double closed_form(const Eigen::MatrixXd& covariance, double mean) {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(covariance);
    const double log_det = solver.eigenvalues().array().log().sum();
    std::vector<double> means(static_cast<std::size_t>(covariance.rows()), mean), variance;
    for (Eigen::Index j = 0; j < covariance.rows(); ++j)
        variance.push_back(covariance(j, j));
    return log_qsur(log_det, means, variance, 0.99);
}

Eigen::MatrixXd random_orthogonal(Eigen::Index d, unsigned seed) {
    std::srand(seed);
    return Eigen::HouseholderQR<Eigen::MatrixXd>(Eigen::MatrixXd::Random(d, d)).householderQ();
}

}  // namespace

TEST_CASE("QSUR closed form: an interval fills its range and a disc fills pi/4 of its square") {
    const std::vector<double> zero1{0.0}, one1{2.0};
    CHECK(std::exp(log_qsur(std::log(2.0), zero1, one1, 0.99)) == Approx(1.0).epsilon(1e-12));
    const std::vector<double> zero2{0.0, 0.0}, var2{3.0, 3.0};
    CHECK(std::exp(log_qsur(2 * std::log(3.0), zero2, var2, 0.99)) ==
          Approx(std::numbers::pi / 4).epsilon(1e-12));
    // unequal eigenvalues or a mean away from zero waste space
    const std::vector<double> var_unequal{1.0, 9.0}, offset{0.0, 1.0};
    CHECK(log_qsur(std::log(9.0), zero2, var_unequal, 0.99) <
          log_qsur(std::log(9.0), zero2, std::vector<double>{3.0, 3.0}, 0.99));
    CHECK(log_qsur(2 * std::log(3.0), offset, var2, 0.99) < log_qsur(2 * std::log(3.0), zero2, var2, 0.99));
}

TEST_CASE("QSUR of Gaussian samples agrees with the closed form of their covariance") {
    const Eigen::Index d = 6;
    const Eigen::MatrixXd q = random_orthogonal(d, 3);
    Eigen::VectorXd lambda(d);
    lambda << 0.2, 0.5, 1.0, 2.0, 4.0, 9.0;
    const Eigen::MatrixXd covariance = q * lambda.asDiagonal() * q.transpose();
    const auto samples = gaussian_samples(200000, covariance, 0.0, 11);
    const auto measured = qsur(samples, 200000, d, {.rotated = false});
    const double expected = closed_form(covariance, 0.0);
    CHECK_FALSE(measured.rank_deficient);
    CHECK(measured.per_dimension == Approx(std::exp(expected / d)).epsilon(5e-3));
    CHECK(measured.log10_qsur == Approx(expected / std::numbers::ln10).epsilon(2e-2));
}

TEST_CASE(
    "QSUR under rotation: unchanged for isotropic data and raised when the rotation evens the diagonal") {
    const Eigen::Index d = 16;
    SECTION("isotropic: every orthogonal rotation leaves the distribution as it was") {
        const auto samples = gaussian_samples(100000, Eigen::MatrixXd::Identity(d, d) * 0.25, 0.0, 5);
        const auto result = qsur(samples, 100000, d);
        CHECK(result.per_dimension_rotated == Approx(result.per_dimension).epsilon(5e-3));
    }
    SECTION("diagonal covariance with unequal variances: Hadamard makes every Σ_jj the mean eigenvalue") {
        Eigen::VectorXd lambda = Eigen::VectorXd::LinSpaced(d, 1.0, 16.0).array().square();
        const Eigen::MatrixXd covariance = lambda.asDiagonal();
        const auto samples = gaussian_samples(100000, covariance, 0.0, 6);
        const auto result = qsur(samples, 100000, d);
        const double log_det = lambda.array().log().sum();
        const std::vector<double> zeros(d, 0.0), even(d, lambda.mean());
        const double expected_rotated = log_qsur(log_det, zeros, even, 0.99);
        CHECK(result.per_dimension_rotated > 1.5 * result.per_dimension);
        CHECK(result.per_dimension_rotated == Approx(std::exp(expected_rotated / d)).epsilon(1e-2));
        CHECK(result.per_dimension == Approx(std::exp(closed_form(covariance, 0.0) / d)).epsilon(1e-2));
    }
    SECTION("the rotated figure is the QSUR of the explicitly rotated rows") {
        const auto samples = gaussian_samples(
            4000, Eigen::MatrixXd(Eigen::VectorXd::LinSpaced(d, 0.5, 3.0).asDiagonal()), 0.3, 8);
        auto rotated = samples;
        const InputRotation rotation(d, 0);
        for (std::size_t r = 0; r < 4000; ++r)
            rotation.rotate(std::span<float>(rotated.data() + r * d, static_cast<std::size_t>(d)));
        CHECK(qsur(samples, 4000, d).log10_qsur_rotated ==
              Approx(qsur(rotated, 4000, d, {.rotated = false}).log10_qsur).epsilon(1e-5));
    }
}

TEST_CASE("QSUR agrees with NumPy eigvalsh and SciPy's chi-square quantile") {
    auto golden = open_model_file(data_path("golden/qsur.npz"));
    for (const char* name : {"aniso", "offset", "wide", "heavy"}) {
        INFO(name);
        const auto& info = golden->tensor(name);
        auto data = golden->read_f32(info);
        auto expected_data = golden->read(golden->tensor(std::string(name) + "_expected"));
        double expected[2];
        std::memcpy(expected, expected_data.bytes().data(), sizeof expected);
        const auto result = qsur(data.values(), info.shape[0], info.shape[1], {.rotated = false});
        CHECK(result.log10_qsur == Approx(expected[0]).epsilon(1e-9));
        CHECK(result.per_dimension == Approx(expected[1]).epsilon(1e-9));
        CHECK(result.rank_deficient == (std::string(name) == "wide"));
    }
}

TEST_CASE("covariance log-determinant: the Cholesky and eigensolver paths agree") {
    std::mt19937_64 random(9);
    std::normal_distribution<float> normal;
    for (auto [rows, cols] :
         {std::pair<std::int64_t, std::int64_t>{700, 600}, {300, 520}, {50, 20}, {3, 9}}) {
        INFO(rows << "x" << cols);
        std::vector<float> values(static_cast<std::size_t>(rows * cols));
        for (auto& v : values)
            v = normal(random);
        const auto fast = covariance_spectrum(values, rows, cols);
        const auto exact = covariance_spectrum(values, rows, cols, true);
        CHECK_FALSE(fast.eigensolver);
        CHECK(exact.eigensolver);
        CHECK(fast.log_det == Approx(exact.log_det).epsilon(1e-9));
        CHECK(fast.lambda_max == Approx(exact.lambda_max).epsilon(1e-6));
        CHECK(fast.floored == exact.floored);
        CHECK(fast.floored == std::max<std::int64_t>(0, cols - (rows - 1)));
    }
}

TEST_CASE("QSUR of degenerate weights: a constant column is flagged and an all-zero layer gives NaN") {
    std::vector<float> values(40 * 8);
    std::mt19937_64 random(2);
    std::normal_distribution<float> normal;
    for (std::size_t i = 0; i < values.size(); ++i)
        values[i] = i % 8 == 3 ? 1.0f : normal(random);
    const auto flagged = qsur(values, 40, 8);
    CHECK(flagged.rank_deficient);
    CHECK(flagged.floored_eigenvalues == 1);
    CHECK(std::isfinite(flagged.log10_qsur));
    // The same past the first 256-wide block of the factorisation: it fails there, after
    // overwriting part of the Gram matrix, which must be rebuilt for the eigensolver.
    std::vector<float> wide(700 * 600);
    for (std::size_t i = 0; i < wide.size(); ++i)
        wide[i] = i % 600 == 400 ? 0.5f : normal(random);
    const auto rebuilt = covariance_spectrum(wide, 700, 600);
    const auto forced = covariance_spectrum(wide, 700, 600, true);
    CHECK(rebuilt.eigensolver);
    CHECK(rebuilt.floored == 1);
    CHECK(rebuilt.log_det == Approx(forced.log_det).epsilon(1e-12));
    const std::vector<float> zeros(40 * 8, 0.0f);
    const auto empty = qsur(zeros, 40, 8);
    CHECK(std::isnan(empty.log10_qsur));
    CHECK_THROWS_AS(qsur(zeros, 1, 320), Error);
}

TEST_CASE(
    "QSUR in the paper's form spans the principal axes' endpoints: pi/4 where the bounding box gives pi/5") {
    // Eigenvalues 4 and 1 on axes rotated by 45 degrees, zero mean (c cancels): the endpoints
    // ±2·q1 and ±1·q2 reach ±√2 on both coordinates, a square of side 2√2 and area 8 around an
    // ellipse of area 2π; the bounding box has Σ_jj = 2.5, side 2√2.5, area 10.
    const double h = std::numbers::sqrt2 / 2;
    const std::vector<double> lambda = {4, 1}, axes = {h, h, -h, h}, mean = {0, 0};
    CHECK(std::exp(log_qsur_principal_axes(lambda, axes, mean, 0.99)) ==
          Approx(std::numbers::pi / 4).epsilon(1e-12));
    const std::vector<double> variance = {2.5, 2.5};
    CHECK(std::exp(log_qsur(std::log(4.0), mean, variance, 0.99)) ==
          Approx(std::numbers::pi / 5).epsilon(1e-12));

    // The same from samples with exactly that covariance: ±2√1.5·q1 and ±√1.5·q2 (n − 1 = 3).
    const double a = 2 * std::sqrt(1.5) * h, b = std::sqrt(1.5) * h;
    const std::vector<float> x = {float(a),  float(a), float(-a), float(-a),
                                  float(-b), float(b), float(b),  float(-b)};
    QsurOptions options;
    options.principal_axes = true;
    const auto q = qsur(x, 4, 2, options);
    CHECK(q.per_dimension_principal_axes * q.per_dimension_principal_axes ==
          Approx(std::numbers::pi / 4).epsilon(1e-6));
    CHECK(q.per_dimension * q.per_dimension == Approx(std::numbers::pi / 5).epsilon(1e-6));
    CHECK(std::isnan(qsur(x, 4, 2).per_dimension_principal_axes));  // only when asked
}

TEST_CASE("QSUR in the paper's form equals NumPy's eigendecomposition, full rank and rank-deficient") {
    std::ifstream in(data_path("golden/qsur_principal_axes.json"));
    const auto golden = nlohmann::json::parse(in);
    QsurOptions options;
    options.principal_axes = true;
    options.rotated = false;
    for (const auto& c : golden["cases"]) {
        const auto values = c["values"].get<std::vector<float>>();
        const auto q = qsur(values, c["rows"].get<std::int64_t>(), c["cols"].get<std::int64_t>(), options);
        INFO(c["rows"].get<int>() << " x " << c["cols"].get<int>());
        CHECK(q.log10_qsur_principal_axes ==
              Approx(c["log10_qsur_principal_axes"].get<double>()).epsilon(1e-9));
        CHECK(q.log10_qsur == Approx(c["log10_qsur"].get<double>()).epsilon(1e-9));
        // the paper's cube is never larger than the bounding box here, so its QSUR is higher
        CHECK(q.log10_qsur_principal_axes >= q.log10_qsur - 1e-12);
    }
}
