#pragma once
// dst = a·b (or += with `accumulate`) in the engine's scalar types. float and double go straight
// to Eigen's product. Duals are multiplied as planes of doubles, (A + εȦ)(B + εḂ) = AB + ε(ȦB + AḂ):
// three products in Eigen's vectorised kernels instead of one in scalar Dual arithmetic, and
// fewer where a tangent plane is zero, as it is upstream of the parameters an HVP moves and in
// every weight outside them.
#include <type_traits>

#include "nn/dual.hpp"

namespace quantlens::nn {

namespace products_detail {

template <class X>
struct IsTranspose : std::false_type {};
template <class X>
struct IsTranspose<Eigen::Transpose<X>> : std::true_type {};

template <class X>
auto plane(const X& x, int part) {
    if constexpr (IsTranspose<X>::value)
        return dual_plane(x.nestedExpression(), part).transpose();
    else
        return dual_plane(x, part);
}

// Whether every element is exactly zero, read in storage order and stopping at the first that is not.
template <class P>
bool all_zero(const P& p) {
    for (Eigen::Index outer = 0; outer < p.outerSize(); ++outer)
        for (Eigen::Index inner = 0; inner < p.innerSize(); ++inner)
            if ((P::IsRowMajor ? p.coeff(outer, inner) : p.coeff(inner, outer)) != 0)
                return false;
    return true;
}

}  // namespace products_detail

template <class Dst, class A, class B>
void multiply(Dst&& dst, const A& a, const B& b, bool accumulate = false) {
    using Scalar = typename std::decay_t<Dst>::Scalar;
    if constexpr (std::is_same_v<Scalar, Dual>) {
        using products_detail::plane;
        auto value = dual_plane(dst, 0);
        auto tangent = dual_plane(dst, 1);
        const auto av = plane(a, 0), at = plane(a, 1);
        const auto bv = plane(b, 0), bt = plane(b, 1);
        if (accumulate)
            value.noalias() += av * bv;
        else {
            value.noalias() = av * bv;
            tangent.setZero();
        }
        if (!products_detail::all_zero(at))
            tangent.noalias() += at * bv;
        if (!products_detail::all_zero(bt))
            tangent.noalias() += av * bt;
    } else if (accumulate) {
        dst.noalias() += a * b;
    } else {
        dst.noalias() = a * b;
    }
}

// a·b as a new row-major matrix.
template <class A, class B>
auto product(const A& a, const B& b) {
    using Scalar = typename A::Scalar;
    Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> result(a.rows(), b.cols());
    multiply(result, a, b);
    return result;
}

}  // namespace quantlens::nn
