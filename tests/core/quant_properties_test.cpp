// Properties every quantizer must have (issue: error falls as bits rise, finer scales help
// on heavy tails, MSE clipping beats min-max, GPTQ beats RTN on the layer output, rotation
// spreads outliers, re-quantizing is stable).
#include <catch2/catch.hpp>

#include <Eigen/Dense>

#include <bit>
#include <cmath>
#include <random>

#include "quant/element_grid.hpp"
#include "quant/element_kernels.hpp"
#include "quant/group_scale.hpp"
#include "quant/quantizer.hpp"
#include "stats/histogram.hpp"

using namespace quantlens;

namespace {

std::vector<float> gaussian(std::size_t n, unsigned seed, float sigma = 0.02f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0, sigma);
    std::vector<float> values(n);
    for (auto& v : values)
        v = normal(rng);
    return values;
}

// Student-t(3) weights with a few outlier channels: what LLM weights look like.
std::vector<float> heavy_tailed(std::int64_t rows, std::int64_t cols, unsigned seed) {
    std::mt19937 rng(seed);
    std::student_t_distribution<float> t(3);
    std::vector<float> values(static_cast<std::size_t>(rows * cols));
    for (auto& v : values)
        v = 0.01f * t(rng);
    for (std::int64_t r = 0; r < rows; r += 17)
        values[static_cast<std::size_t>(r * cols + (r * 7) % cols)] *= 40;
    return values;
}

double kurtosis(const std::vector<float>& x) {
    double mean = 0, m2 = 0, m4 = 0;
    for (float v : x)
        mean += v;
    mean /= static_cast<double>(x.size());
    for (float v : x) {
        double d = v - mean;
        m2 += d * d;
        m4 += d * d * d * d;
    }
    m2 /= static_cast<double>(x.size());
    m4 /= static_cast<double>(x.size());
    return m4 / (m2 * m2) - 3;
}

QuantResult run(const std::vector<float>& values, std::int64_t rows, const std::string& spec,
                const QuantOptions& options = {}) {
    return quantize({values, rows, static_cast<std::int64_t>(values.size()) / rows}, QuantSpec::parse(spec),
                    options);
}

}  // namespace

TEST_CASE("quantizing a quantizer's own output changes nothing (within float rounding of the scale)") {
    auto w = heavy_tailed(64, 256, 1);
    for (const char* spec : {"int4:channel:sym", "int4:g128:asym", "int8:tensor:sym", "fp8_e4m3:tensor",
                             "fp4_e2m1:g32", "nf4:g64", "mxfp4", "mxint8", "nvfp4", "q8_0", "q4_0", "q4_1",
                             "q5_0", "q5_1", "log2:4:channel", "binary", "f16", "bf16", "fp6_e2m3:channel"}) {
        INFO(spec);
        auto once = run(w, 64, spec);
        auto twice = run(once.dequantized, 64, spec);
        double worst = 0, scale = 0;
        for (std::size_t i = 0; i < w.size(); ++i) {
            worst =
                std::max(worst, static_cast<double>(std::fabs(twice.dequantized[i] - once.dequantized[i])));
            scale = std::max(scale, static_cast<double>(std::fabs(once.dequantized[i])));
        }
        CHECK(worst <= 1e-5 * scale);
    }
    // Ternary's absmean scale shrinks on its own output ({-s, 0, s} has absmean below s), so
    // values are rescaled, but every code stays the same.
    auto once = run(w, 64, "ternary");
    CHECK(run(once.dequantized, 64, "ternary").codes == once.codes);
}

TEST_CASE("error falls as bits rise") {
    auto w = gaussian(64 * 512, 2);
    double previous = INFINITY;
    for (int bits = 2; bits <= 8; ++bits) {
        auto r = run(w, 64, "int" + std::to_string(bits) + ":channel:sym");
        INFO(bits << " bits: mse " << r.metrics.mse);
        CHECK(r.metrics.mse < previous / 2);
        previous = r.metrics.mse;
    }
    CHECK(run(w, 64, "fp8_e4m3:channel").metrics.mse < run(w, 64, "fp6_e3m2:channel").metrics.mse);
    CHECK(run(w, 64, "fp6_e2m3:channel").metrics.mse < run(w, 64, "fp4_e2m1:channel").metrics.mse);
    CHECK(run(w, 64, "q8_0").metrics.mse < run(w, 64, "q5_0").metrics.mse);
    CHECK(run(w, 64, "q5_0").metrics.mse < run(w, 64, "q4_0").metrics.mse);
    CHECK(run(w, 64, "mxfp8_e4m3").metrics.mse < run(w, 64, "mxfp6_e3m2").metrics.mse);
    CHECK(run(w, 64, "mxfp6_e2m3").metrics.mse < run(w, 64, "mxfp4").metrics.mse);
    CHECK(run(w, 64, "log2:5:channel").metrics.mse < run(w, 64, "log2:3:channel").metrics.mse);
}

TEST_CASE("per-group <= per-channel <= per-tensor error on heavy-tailed data") {
    auto w = heavy_tailed(128, 512, 3);
    for (const char* format : {"int4", "int8", "fp4_e2m1", "nf4"}) {
        INFO(format);
        std::string sym = std::string(format).rfind("int", 0) == 0 ? ":sym" : "";
        double group = run(w, 128, std::string(format) + ":g64" + sym).metrics.mse;
        double channel = run(w, 128, std::string(format) + ":channel" + sym).metrics.mse;
        double tensor = run(w, 128, std::string(format) + ":tensor" + sym).metrics.mse;
        CHECK(group <= channel);
        CHECK(channel <= tensor);
    }
}

TEST_CASE("MSE-optimal clipping is never worse than min-max, and percentile clipping clips") {
    auto w = heavy_tailed(64, 256, 4);
    for (const char* base :
         {"int4:channel:sym", "int4:g64:asym", "int3:tensor:sym", "fp4_e2m1:g32", "nf4:g64"}) {
        INFO(base);
        double minmax = run(w, 64, base).metrics.mse;
        double mse = run(w, 64, std::string(base) + ":clip=mse").metrics.mse;
        CHECK(mse <= minmax);
    }
    CHECK(run(w, 64, "int4:channel:sym:clip=mse").metrics.mse <
          0.9 * run(w, 64, "int4:channel:sym").metrics.mse);
    auto clipped = run(w, 64, "int8:tensor:sym:clip=p99");
    auto full = run(w, 64, "int8:tensor:sym");
    CHECK(clipped.scales[0] < full.scales[0]);
    CHECK(clipped.metrics.max_abs_error > full.metrics.max_abs_error);
}

TEST_CASE("stochastic rounding is reproducible from its seed and unbiased") {
    auto w = gaussian(4096, 5);
    auto a = run(w, 16, "int4:channel:sym:round=stochastic:seed=9");
    auto b = run(w, 16, "int4:channel:sym:round=stochastic:seed=9");
    auto c = run(w, 16, "int4:channel:sym:round=stochastic:seed=10");
    CHECK(a.dequantized == b.dequantized);
    CHECK(a.dequantized != c.dequantized);
    std::vector<double> mean(w.size(), 0);
    const int trials = 200;
    for (int seed = 1; seed <= trials; ++seed) {
        auto r = run(w, 16, "int4:channel:sym:round=stochastic:seed=" + std::to_string(seed));
        for (std::size_t i = 0; i < w.size(); ++i)
            mean[i] += r.dequantized[i] / trials;
    }
    auto nearest = run(w, 16, "int4:channel:sym");
    double bias = 0, rtn_bias = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
        bias += std::fabs(mean[i] - w[i]);
        rtn_bias += std::fabs(nearest.dequantized[i] - w[i]);
    }
    CHECK(bias < 0.25 * rtn_bias);  // the average over seeds converges to the weights; RTN does not
}

TEST_CASE("GPTQ lowers the layer output error ||WX - ŴX|| versus round-to-nearest") {
    const std::int64_t rows = 64, cols = 128, samples = 512;
    auto w = gaussian(static_cast<std::size_t>(rows * cols), 6, 0.05f);
    // Correlated inputs with uneven channel scales, as activations are.
    std::mt19937 rng(7);
    std::normal_distribution<float> normal;
    Eigen::MatrixXf mixing = Eigen::MatrixXf::NullaryExpr(cols, cols, [&] { return normal(rng); });
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> x =
        Eigen::MatrixXf::NullaryExpr(samples, cols, [&] { return normal(rng); }) * mixing;
    for (std::int64_t c = 0; c < cols; ++c)
        x.col(c) *= 1.0f + 4.0f * static_cast<float>(c % 7 == 0);
    CalibrationInputs inputs{{x.data(), static_cast<std::size_t>(x.size())}, samples, cols};
    QuantOptions options;
    options.inputs = &inputs;
    using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<const RowMatrix> weights(w.data(), rows, cols);
    auto output_error = [&](const QuantResult& r) {
        Eigen::Map<const RowMatrix> q(r.dequantized.data(), rows, cols);
        return ((weights - q) * x.transpose()).squaredNorm();
    };
    for (const char* base :
         {"int4:channel:sym", "int4:g32:asym", "int3:g64:sym", "nf4:g64", "fp4_e2m1:g32"}) {
        INFO(base);
        double rtn = output_error(run(w, rows, base, options));
        double gptq = output_error(run(w, rows, std::string(base) + ":round=gptq", options));
        double gptq_act = output_error(run(w, rows, std::string(base) + ":round=gptq:actorder", options));
        CHECK(gptq < 0.9 * rtn);
        CHECK(gptq_act < 0.9 * rtn);
    }
    CHECK_THROWS_WITH(run(w, rows, "int4:channel:sym:round=gptq"), Catch::Contains("calibration inputs"));
}

TEST_CASE(
    "Hadamard rotation lowers the kurtosis of a tensor with outlier channels and keeps the error in the "
    "weight basis") {
    const std::int64_t rows = 64, cols = 256;
    auto w = gaussian(static_cast<std::size_t>(rows * cols), 8);
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c : {3, 77, 200})
            w[static_cast<std::size_t>(r * cols + c)] *= 30;  // outlier input channels
    auto plain = run(w, rows, "int4:channel:sym");
    auto rotated = run(w, rows, "int4:channel:sym:rot=hadamard:rotseed=1");
    REQUIRE(rotated.transformed.size() == w.size());
    CHECK(kurtosis(rotated.transformed) < 0.2 * kurtosis(w));
    CHECK(rotated.metrics.mse < plain.metrics.mse);
    // f32 through the rotation and back is the identity (to float rounding)
    auto identity = run(w, rows, "int8:channel:sym:rot=hadamard");
    CHECK(identity.metrics.sqnr_db > 35);
    // a row length with no large power-of-two factor uses a random orthogonal matrix
    auto odd = gaussian(10 * 27, 9);
    auto odd_rotated = run(odd, 10, "int8:channel:sym:rot=hadamard");
    CHECK(odd_rotated.metrics.sqnr_db > 35);
}

TEST_CASE("smoothing needs activations and migrates their range into the weights") {
    const std::int64_t rows = 32, cols = 64, samples = 128;
    auto w = gaussian(static_cast<std::size_t>(rows * cols), 10);
    auto x = gaussian(static_cast<std::size_t>(samples * cols), 11, 1.0f);
    for (std::int64_t s = 0; s < samples; ++s)
        x[static_cast<std::size_t>(s * cols + 5)] *= 50;
    CalibrationInputs inputs{x, samples, cols};
    QuantOptions options;
    options.inputs = &inputs;
    auto smoothed = run(w, rows, "int8:channel:sym:smooth=0.5", options);
    REQUIRE(smoothed.transformed.size() == w.size());
    // channel 5 has the large activations: its weights were scaled up
    CHECK(std::fabs(smoothed.transformed[5]) > std::fabs(w[5]) * 3);
    CHECK(smoothed.metrics.sqnr_db > 30);
    CHECK_THROWS_WITH(run(w, rows, "int8:channel:sym:smooth=0.5"), Catch::Contains("calibration inputs"));
}

TEST_CASE("metrics agree with their definitions") {
    std::vector<float> a{1, 2, 3, 4}, b{1, 2, 3, 5};
    auto m = error_metrics(a, b);
    CHECK(m.mse == Approx(0.25));
    CHECK(m.max_abs_error == 1);
    CHECK(m.sqnr_db == Approx(10 * std::log10(30.0 / 1.0)));
    CHECK(m.cosine == Approx((1 + 4 + 9 + 20) / std::sqrt(30.0 * 39.0)));
    auto r = run(gaussian(1024, 12), 8, "int4:channel:sym");
    std::uint64_t counted = 0;
    for (auto c : r.error_histogram.counts)
        counted += c;
    CHECK(counted == 1024);
    CHECK(r.metrics.size_bytes == static_cast<std::uint64_t>(std::ceil((1024 * 4 + 8 * 32) / 8.0)));
}

TEST_CASE(
    "a preview's weight histogram equals the plain histogram of the weights, and re-used buffers give the "
    "same result") {
    auto w = heavy_tailed(32, 256, 13);
    QuantOptions options;
    options.weight_histogram = true;
    auto fresh = quantize({w, 32, 256}, QuantSpec::parse("int4:g128:asym"), options);
    auto expected = histogram(w, 256);
    CHECK(fresh.weight_histogram.counts == expected.counts);
    CHECK(fresh.weight_histogram.low == expected.low);
    QuantResult reused;
    quantize_into({w, 32, 256}, QuantSpec::parse("nf4:g64"), options,
                  reused);  // different sizes of everything
    quantize_into({w, 32, 256}, QuantSpec::parse("int4:g128:asym"), options, reused);
    CHECK(reused.dequantized == fresh.dequantized);
    CHECK(reused.codes == fresh.codes);
    CHECK(reused.scales == fresh.scales);
    CHECK(reused.zero_points == fresh.zero_points);
    CHECK(reused.error_histogram.counts == fresh.error_histogram.counts);
    quantize_into({w, 32, 256}, QuantSpec::parse("q4_0"), options, reused);
    CHECK(reused.codes.empty());  // ggml results keep their codes in the blocks
}

TEST_CASE("skipping codes (previews) leaves every other output the same") {
    auto w = heavy_tailed(16, 512, 14);
    for (const char* spec : {"int4:g128:asym", "fp8_e4m3:tensor", "nf4:g64", "mxfp4", "nvfp4",
                             "int8:tensor:sym", "int4:g64:sym:round=stochastic:seed=3"}) {
        INFO(spec);
        QuantOptions without;
        without.codes = false;
        auto full = run(w, 16, spec);
        auto light = run(w, 16, spec, without);
        CHECK(light.codes.empty());
        CHECK(light.dequantized == full.dequantized);
        CHECK(light.scales == full.scales);
        CHECK(light.metrics.mse == full.metrics.mse);
        CHECK(light.metrics.bits_per_weight == full.metrics.bits_per_weight);
    }
}

TEST_CASE("the minifloat element kernel agrees bit for bit with the grid's own rounding") {
    // Every level, every midpoint between levels (ties), values just either side of them,
    // subnormals, saturation and signed zeros, scaled by a power of two and by an odd scale.
    for (QuantFormat format : {QuantFormat::Fp8E4M3, QuantFormat::Fp8E5M2, QuantFormat::Fp6E3M2,
                               QuantFormat::Fp6E2M3, QuantFormat::Fp4E2M1}) {
        const auto grid = minifloat_grid(format);
        const auto levels = grid.levels();
        std::vector<float> x{0.0f,          -0.0f,           grid.max * 4,
                             -grid.max * 4, grid.min_normal, grid.subnormal_quantum / 3};
        for (std::size_t i = 0; i + 1 < levels.size(); ++i) {
            const float mid = (levels[i] + levels[i + 1]) / 2;
            for (float v : {levels[i], mid, std::nextafter(mid, -INFINITY), std::nextafter(mid, INFINITY)})
                x.push_back(v);
        }
        for (float inverse : {1.0f, 0.37f}) {
            std::vector<float> scaled(x.size());
            for (std::size_t i = 0; i < x.size(); ++i)
                scaled[i] = x[i] / inverse;  // x[i] back after multiplying (nearly)
            std::vector<float> fast(x.size()), plain(x.size());
            minifloat_dequantize(grid, scaled.data(), scaled.size(), inverse, 2.5f, fast.data());
            minifloat_dequantize_scalar_for_tests(grid, scaled.data(), scaled.size(), inverse, 2.5f,
                                                  plain.data());
            for (std::size_t i = 0; i < x.size(); ++i) {
                INFO("format " << static_cast<int>(format) << " value " << scaled[i] << " inverse "
                               << inverse);
                CHECK(std::bit_cast<std::uint32_t>(fast[i]) == std::bit_cast<std::uint32_t>(plain[i]));
                CHECK(plain[i] == grid.nearest(scaled[i] * inverse) * 2.5f);
            }
        }
    }
}

TEST_CASE("the table element kernel (NF4, log2) agrees bit for bit with the grid's own rounding") {
    for (const TableGrid& grid : {nf4_grid(), log2_grid(3), log2_grid(4), log2_grid(5)}) {
        const auto& levels = grid.table;
        std::vector<float> x{0.0f, -0.0f, 4.0f, -4.0f, 1e-30f, -1e-30f};
        for (std::size_t i = 0; i + 1 < levels.size(); ++i) {
            const float mid = grid.midpoints[i];
            for (float v : {levels[i], mid, std::nextafter(mid, -INFINITY), std::nextafter(mid, INFINITY)})
                x.push_back(v);
        }
        for (float inverse : {1.0f, 0.37f}) {
            std::vector<float> scaled(x.size());
            for (std::size_t i = 0; i < x.size(); ++i)
                scaled[i] = x[i] / inverse;
            std::vector<float> fast(x.size()), plain(x.size());
            table_dequantize(grid, scaled.data(), scaled.size(), inverse, 2.5f, fast.data());
            table_dequantize_scalar_for_tests(grid, scaled.data(), scaled.size(), inverse, 2.5f,
                                              plain.data());
            for (std::size_t i = 0; i < x.size(); ++i) {
                INFO("table of " << levels.size() << " value " << scaled[i] << " inverse " << inverse);
                CHECK(std::bit_cast<std::uint32_t>(fast[i]) == std::bit_cast<std::uint32_t>(plain[i]));
                CHECK(plain[i] == grid.nearest(scaled[i] * inverse) * 2.5f);
            }
        }
    }
}

TEST_CASE("the clipping search's squared-error kernel agrees bit for bit with its scalar twin") {
    const auto x = gaussian(1000, 21);
    for (std::size_t n :
         {std::size_t{0}, std::size_t{7}, std::size_t{32}, std::size_t{128}, std::size_t{1000}})
        for (float scale : {0.001f, 0.0037f, 0.02f}) {
            INFO("n " << n << " scale " << scale);
            const double fast = int_grid_squared_error(x.data(), n, scale, -7, 7);
            const double plain = int_grid_squared_error_scalar_for_tests(x.data(), n, scale, -7, 7);
            CHECK(std::bit_cast<std::uint64_t>(fast) == std::bit_cast<std::uint64_t>(plain));
        }
}
