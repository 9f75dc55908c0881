#include "stats/covariance_spectrum.hpp"

#include "util/cpu_features.hpp"
#include "util/error.hpp"

namespace quantlens {

CovarianceSpectrum covariance_spectrum(std::span<const float> values, std::int64_t rows, std::int64_t cols,
                                       bool force_eigensolver) {
    if (rows < 2 || cols < 1 ||
        values.size() != static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols))
        throw Error("", "covariance",
                    "needs at least 2 rows (samples) and rows×cols values; got " + std::to_string(rows) +
                        "×" + std::to_string(cols) + " with " + std::to_string(values.size()) + " values");
    static const bool avx2 = cpu_has_avx2();
    return avx2 ? detail::covariance_spectrum_avx2(values.data(), rows, cols, force_eigensolver)
                : detail::covariance_spectrum_generic(values.data(), rows, cols, force_eigensolver);
}

}  // namespace quantlens
