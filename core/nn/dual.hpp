#pragma once
// Dual numbers: a value and its derivative along one direction, (a + ε·ȧ) with ε² = 0. The
// engine's forward and backward passes are templates over their scalar; run on Duals whose
// parameters carry the tangent v, the backward pass yields ∇L in the values and H·v in the
// tangents, exactly: forward-mode differentiation of the reverse pass, Pearlmutter's R-operator
// ("Fast exact multiplication by the Hessian", 1994) by operator overloading, so every node kind
// the engine has gets it with nothing per kind to write or keep in step. Orderings look at the
// value only: ReLU masks and max-pool choices are θ's, autograd's convention (ReLU'' = 0).
// Equality compares both parts, so a test for zero never drops a tangent.
#include <cmath>
#include <limits>

#include <Eigen/Core>

namespace quantlens::nn {

struct Dual {
    double v = 0;  // value
    double t = 0;  // tangent: d/dε of the value at θ + ε·v

    Dual() = default;
    Dual(double value, double tangent = 0) : v(value), t(tangent) {}  // NOLINT: constants are Duals
    explicit operator double() const { return v; }

    Dual& operator+=(Dual o) {
        v += o.v;
        t += o.t;
        return *this;
    }
    Dual& operator-=(Dual o) {
        v -= o.v;
        t -= o.t;
        return *this;
    }
    Dual& operator*=(Dual o) { return *this = *this * o; }
    Dual& operator/=(Dual o) { return *this = *this / o; }

    friend Dual operator-(Dual a) { return {-a.v, -a.t}; }
    friend Dual operator+(Dual a, Dual b) { return {a.v + b.v, a.t + b.t}; }
    friend Dual operator-(Dual a, Dual b) { return {a.v - b.v, a.t - b.t}; }
    friend Dual operator*(Dual a, Dual b) { return {a.v * b.v, a.t * b.v + a.v * b.t}; }
    friend Dual operator/(Dual a, Dual b) {
        const double q = a.v / b.v;
        return {q, (a.t - q * b.t) / b.v};
    }
    friend bool operator<(Dual a, Dual b) { return a.v < b.v; }
    friend bool operator>(Dual a, Dual b) { return a.v > b.v; }
    friend bool operator<=(Dual a, Dual b) { return a.v <= b.v; }
    friend bool operator>=(Dual a, Dual b) { return a.v >= b.v; }
    friend bool operator==(Dual a, Dual b) { return a.v == b.v && a.t == b.t; }
    friend bool operator!=(Dual a, Dual b) { return !(a == b); }

    // Found by argument-dependent lookup, beside std's for float and double: the ops call these
    // unqualified after `using std::exp;` and so on, and Eigen's element-wise functions do the same.
    friend Dual exp(Dual a) {
        const double e = std::exp(a.v);
        return {e, e * a.t};
    }
    friend Dual log(Dual a) { return {std::log(a.v), a.t / a.v}; }
    friend Dual sqrt(Dual a) {
        const double s = std::sqrt(a.v);
        return {s, a.t / (2 * s)};
    }
    friend Dual tanh(Dual a) {
        const double h = std::tanh(a.v);
        return {h, (1 - h * h) * a.t};
    }
    friend Dual erf(Dual a) {  // erf′(z) = 2/√π · e^(−z²)
        return {std::erf(a.v), 2 / std::sqrt(M_PI) * std::exp(-a.v * a.v) * a.t};
    }
    friend Dual abs(Dual a) { return a.v < 0 ? -a : a; }
    friend bool isfinite(Dual a) { return std::isfinite(a.v) && std::isfinite(a.t); }
    friend bool isnan(Dual a) { return std::isnan(a.v) || std::isnan(a.t); }
    friend bool isinf(Dual a) { return std::isinf(a.v) || std::isinf(a.t); }
};
static_assert(sizeof(Dual) == 2 * sizeof(double), "a Dual array is read as interleaved value|tangent planes");

// The value or tangent plane of a direct-access Eigen expression of Duals (a matrix, map, block
// or transpose of one) as a strided map of doubles, so products can run in Eigen's vectorised
// double kernels: a Dual array is (value, tangent) pairs, as std::complex is (real, imaginary).
template <class X>
auto dual_plane(X&& x, int part) {
    using Plain = std::decay_t<X>;
    using Scalar =
        std::conditional_t<std::is_const_v<std::remove_pointer_t<decltype(x.data())>>, const double, double>;
    using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic,
                                 Plain::IsRowMajor ? Eigen::RowMajor : Eigen::ColMajor>;
    using Stride = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
    using Map = Eigen::Map<std::conditional_t<std::is_const_v<Scalar>, const Matrix, Matrix>, 0, Stride>;
    return Map(reinterpret_cast<Scalar*>(x.data()) + part, x.rows(), x.cols(),
               Stride(2 * x.outerStride(), 2 * x.innerStride()));
}

}  // namespace quantlens::nn

// The masks of causal attention and max pooling start from −∞ of the scalar type.
namespace std {
template <>
class numeric_limits<quantlens::nn::Dual> : public numeric_limits<double> {
public:
    static quantlens::nn::Dual infinity() noexcept { return numeric_limits<double>::infinity(); }
    static quantlens::nn::Dual quiet_NaN() noexcept { return numeric_limits<double>::quiet_NaN(); }
    static quantlens::nn::Dual max() noexcept { return numeric_limits<double>::max(); }
    static quantlens::nn::Dual lowest() noexcept { return numeric_limits<double>::lowest(); }
    static quantlens::nn::Dual epsilon() noexcept { return numeric_limits<double>::epsilon(); }
};
}  // namespace std

namespace Eigen {
template <>
struct NumTraits<quantlens::nn::Dual> : GenericNumTraits<quantlens::nn::Dual> {
    using Real = quantlens::nn::Dual;
    using NonInteger = quantlens::nn::Dual;
    using Literal = quantlens::nn::Dual;
    using Nested = quantlens::nn::Dual;
    enum {
        IsComplex = 0,
        IsInteger = 0,
        IsSigned = 1,
        RequireInitialization = 0,
        ReadCost = 2,
        AddCost = 2,
        MulCost = 4,
    };
    static Real epsilon() { return std::numeric_limits<double>::epsilon(); }
    static Real dummy_precision() { return 1e-12; }
    static Real highest() { return std::numeric_limits<double>::max(); }
    static Real lowest() { return std::numeric_limits<double>::lowest(); }
    static Real infinity() { return std::numeric_limits<double>::infinity(); }
    static Real quiet_NaN() { return std::numeric_limits<double>::quiet_NaN(); }
    static int digits10() { return std::numeric_limits<double>::digits10; }
};
}  // namespace Eigen
