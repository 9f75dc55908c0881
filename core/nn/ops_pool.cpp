// MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D on channels-last inputs. "same"
// padding never wins a max and is left out of an average's count, as TensorFlow pools.
#include <limits>

#include "nn/ops.hpp"

namespace quantlens::nn {

namespace {

// Calls visit(n, output offset, input offset) for every (output, input) pair a pooling window links.
template <typename Visit>
void for_each_window(const Node& node, Eigen::Index samples, Visit&& visit) {
    const Eigen::Index c = node.in.last();
    for_each_tap(node, samples, [&](Eigen::Index n, Eigen::Index position, Eigen::Index, Eigen::Index pixel) {
        visit(n, position * c, pixel * c);
    });
}

// Where each max-pool output takes its value from: the first input holding the window's
// maximum (PyTorch's choice among ties).
template <typename T>
Eigen::Matrix<Eigen::Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> max_positions(
    const Node& node, const Matrix<T>& x) {
    const Eigen::Index c = node.in.last();
    Matrix<T> best = Matrix<T>::Constant(x.rows(), node.out.size(), -std::numeric_limits<T>::infinity());
    Eigen::Matrix<Eigen::Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> where =
        decltype(where)::Zero(x.rows(), node.out.size());
    for_each_window(node, x.rows(), [&](Eigen::Index n, Eigen::Index out, Eigen::Index in) {
        for (Eigen::Index k = 0; k < c; ++k)
            if (x(n, in + k) > best(n, out + k)) {
                best(n, out + k) = x(n, in + k);
                where(n, out + k) = in + k;
            }
    });
    return where;
}

}  // namespace

template <typename T>
Matrix<T> pool_forward(const Node& node, const Matrix<T>& x, const Matrix<T>& gate) {
    const Eigen::Index c = node.in.last();
    if (node.kind == OpKind::GlobalAvgPool) {
        const Eigen::Index positions = node.in.size() / c;
        Matrix<T> y = Matrix<T>::Zero(x.rows(), c);
        for (Eigen::Index p = 0; p < positions; ++p)
            y += x.middleCols(p * c, c);
        return y / T(positions);
    }
    if (node.kind == OpKind::MaxPool) {
        const auto where = max_positions(node, gate);
        Matrix<T> y(x.rows(), node.out.size());
        for (Eigen::Index n = 0; n < x.rows(); ++n)
            for (Eigen::Index o = 0; o < y.cols(); ++o)
                y(n, o) = x(n, where(n, o));
        return y;
    }
    Matrix<T> y = Matrix<T>::Zero(x.rows(), node.out.size());
    Matrix<T> count = Matrix<T>::Zero(1, node.out.size());
    for_each_window(node, x.rows(), [&](Eigen::Index n, Eigen::Index out, Eigen::Index in) {
        for (Eigen::Index k = 0; k < c; ++k) {
            y(n, out + k) += x(n, in + k);
            if (n == 0)
                count(0, out + k) += 1;
        }
    });
    y.array().rowwise() /= count.array().row(0);
    return y;
}

template <typename T>
void pool_backward(const Node& node, const Matrix<T>& x, const Matrix<T>& gate, const Matrix<T>& dy,
                   Matrix<T>* dx) {
    if (!dx)
        return;
    const Eigen::Index c = node.in.last();
    if (node.kind == OpKind::GlobalAvgPool) {
        const Eigen::Index positions = node.in.size() / c;
        for (Eigen::Index p = 0; p < positions; ++p)
            dx->middleCols(p * c, c) += dy / T(positions);
        return;
    }
    if (node.kind == OpKind::AvgPool) {
        Matrix<T> count = Matrix<T>::Zero(1, node.out.size());
        for_each_window(node, 1, [&](Eigen::Index, Eigen::Index out, Eigen::Index) {
            count.middleCols(out, c).array() += 1;
        });
        for_each_window(node, x.rows(), [&](Eigen::Index n, Eigen::Index out, Eigen::Index in) {
            for (Eigen::Index k = 0; k < c; ++k)
                (*dx)(n, in + k) += dy(n, out + k) / count(0, out + k);
        });
        return;
    }
    const auto where = max_positions(node, gate);
    for (Eigen::Index n = 0; n < x.rows(); ++n)
        for (Eigen::Index o = 0; o < dy.cols(); ++o)
            (*dx)(n, where(n, o)) += dy(n, o);
}

template Matrix<float> pool_forward<float>(const Node&, const Matrix<float>&, const Matrix<float>&);
template Matrix<double> pool_forward<double>(const Node&, const Matrix<double>&, const Matrix<double>&);
template void pool_backward<float>(const Node&, const Matrix<float>&, const Matrix<float>&,
                                   const Matrix<float>&, Matrix<float>*);
template void pool_backward<double>(const Node&, const Matrix<double>&, const Matrix<double>&,
                                    const Matrix<double>&, Matrix<double>*);
template Matrix<Dual> pool_forward<Dual>(const Node&, const Matrix<Dual>&, const Matrix<Dual>&);
template void pool_backward<Dual>(const Node&, const Matrix<Dual>&, const Matrix<Dual>&, const Matrix<Dual>&,
                                  Matrix<Dual>*);

}  // namespace quantlens::nn
