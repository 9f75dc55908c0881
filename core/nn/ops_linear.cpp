// Dense, Conv2D (as im2col and one matrix product, so Eigen's blocked GEMM does the work) and
// DepthwiseConv2D (a direct loop: each channel has its own small kernel).
#include "nn/ops.hpp"
#include "nn/products.hpp"
#include "util/parallel.hpp"

namespace quantlens::nn {

namespace {

// Runs body(first, count) over [0, rows) in contiguous chunks on every core, once each chunk has
// at least kChunkWork multiply-adds (`work` per row): Eigen's products are single-threaded
// without OpenMP, and splitting a product by rows keeps each thread's writes apart.
constexpr Eigen::Index kChunkWork = Eigen::Index(1) << 21;
template <class Body>
void for_row_chunks(Eigen::Index rows, Eigen::Index work, Body&& body) {
    const auto grain =
        static_cast<std::size_t>(std::max<Eigen::Index>(1, kChunkWork / std::max<Eigen::Index>(1, work)));
    parallel_for(static_cast<std::size_t>(rows), grain, [&](std::size_t begin, std::size_t end) {
        body(static_cast<Eigen::Index>(begin), static_cast<Eigen::Index>(end - begin));
    });
}

template <typename T>
using ConstMap = Eigen::Map<const Matrix<T>>;
template <typename T>
using MutableMap = Eigen::Map<Matrix<T>>;

template <typename T>
const T* slot_data(const Node& node, const char* name, const T* theta) {
    const auto* slot = node.slot(name);
    return slot ? theta + slot->offset : nullptr;
}
template <typename T>
T* slot_data(const Node& node, const char* name, T* gradient) {
    const auto* slot = node.slot(name);
    return slot ? gradient + slot->offset : nullptr;
}

struct Geometry {
    Eigen::Index n, h, w, c, ho, wo, co;
};
template <typename T>
Geometry geometry(const Node& node, const Matrix<T>& x) {
    return {x.rows(),         node.in.dims[0],  node.in.dims[1], node.in.dims[2],
            node.out.dims[0], node.out.dims[1], node.out.dims[2]};
}

}  // namespace

template <typename T>
Matrix<T> dense_forward(const Node& node, const Matrix<T>& x, const T* theta) {
    const Eigen::Index in = node.in.last(), out = node.out.last(), rows = x.size() / in;
    const ConstMap<T> xs(x.data(), rows, in);
    Matrix<T> y(x.rows(), node.out.size());
    MutableMap<T> ys(y.data(), rows, out);
    const T* kernel = slot_data(node, "kernel", theta);
    const T* bias = slot_data(node, "bias", theta);
    for_row_chunks(rows, in * out, [&](Eigen::Index first, Eigen::Index count) {
        auto part = ys.middleRows(first, count);
        if (node.transposed)
            multiply(part, xs.middleRows(first, count), ConstMap<T>(kernel, out, in).transpose());
        else
            multiply(part, xs.middleRows(first, count), ConstMap<T>(kernel, in, out));
        if (bias)
            part.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias, out);
    });
    return y;
}

template <typename T>
void dense_backward(const Node& node, const Matrix<T>& x, const Matrix<T>& dy, const T* theta, T* gradient,
                    Matrix<T>* dx) {
    const Eigen::Index in = node.in.last(), out = node.out.last(), rows = x.size() / in;
    const ConstMap<T> xs(x.data(), rows, in), dys(dy.data(), rows, out);
    // ∂L/∂x by rows of x, ∂L/∂kernel by rows of the kernel: each thread writes its own rows
    if (node.transposed) {  // kernel [out, in]
        const ConstMap<T> kernel(slot_data(node, "kernel", theta), out, in);
        MutableMap<T> kernel_gradient(slot_data(node, "kernel", gradient), out, in);
        for_row_chunks(out, rows * in, [&](Eigen::Index first, Eigen::Index count) {
            multiply(kernel_gradient.middleRows(first, count), dys.middleCols(first, count).transpose(), xs,
                     true);
        });
        if (dx)
            for_row_chunks(rows, in * out, [&](Eigen::Index first, Eigen::Index count) {
                multiply(MutableMap<T>(dx->data(), rows, in).middleRows(first, count),
                         dys.middleRows(first, count), kernel, true);
            });
    } else {
        const ConstMap<T> kernel(slot_data(node, "kernel", theta), in, out);
        MutableMap<T> kernel_gradient(slot_data(node, "kernel", gradient), in, out);
        for_row_chunks(in, rows * out, [&](Eigen::Index first, Eigen::Index count) {
            multiply(kernel_gradient.middleRows(first, count), xs.middleCols(first, count).transpose(), dys,
                     true);
        });
        if (dx)
            for_row_chunks(rows, in * out, [&](Eigen::Index first, Eigen::Index count) {
                multiply(MutableMap<T>(dx->data(), rows, in).middleRows(first, count),
                         dys.middleRows(first, count), kernel.transpose(), true);
            });
    }
    if (T* bias = slot_data(node, "bias", gradient))
        Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias, out) += dys.colwise().sum();
}

template <typename T>
Matrix<T> im2col(const Node& node, const Matrix<T>& x) {
    const auto g = geometry(node, x);
    const Eigen::Index positions = g.ho * g.wo;
    Matrix<T> patches = Matrix<T>::Zero(g.n * positions, Eigen::Index(node.window.kh) * node.window.kw * g.c);
    for_each_tap(node, g.n, [&](Eigen::Index n, Eigen::Index position, Eigen::Index tap, Eigen::Index pixel) {
        const T* from = x.row(n).data() + pixel * g.c;
        std::copy(from, from + g.c, patches.row(n * positions + position).data() + tap * g.c);
    });
    return patches;
}

template <typename T>
Matrix<T> conv2d_forward(const Node& node, const Matrix<T>& x, const T* theta) {
    const auto g = geometry(node, x);
    const Matrix<T> patches = im2col(node, x);
    const ConstMap<T> kernel(slot_data(node, "kernel", theta), patches.cols(), g.co);
    Matrix<T> y(g.n, node.out.size());
    MutableMap<T> ys(y.data(), patches.rows(), g.co);
    multiply(ys, patches, kernel);
    if (const T* bias = slot_data(node, "bias", theta))
        ys.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias, g.co);
    return y;
}

template <typename T>
void conv2d_backward(const Node& node, const Matrix<T>& x, const Matrix<T>& dy, const T* theta, T* gradient,
                     Matrix<T>* dx) {
    const auto g = geometry(node, x);
    const Matrix<T> patches = im2col(node, x);
    const ConstMap<T> dys(dy.data(), patches.rows(), g.co),
        kernel(slot_data(node, "kernel", theta), patches.cols(), g.co);
    multiply(MutableMap<T>(slot_data(node, "kernel", gradient), patches.cols(), g.co), patches.transpose(),
             dys, true);
    if (T* bias = slot_data(node, "bias", gradient))
        Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias, g.co) += dys.colwise().sum();
    if (!dx)
        return;
    // col2im: each patch value back to its pixel
    const Matrix<T> dpatches = product(dys, kernel.transpose());
    const Eigen::Index positions = g.ho * g.wo;
    for_each_tap(node, g.n, [&](Eigen::Index n, Eigen::Index position, Eigen::Index tap, Eigen::Index pixel) {
        const T* from = dpatches.row(n * positions + position).data() + tap * g.c;
        T* to = dx->row(n).data() + pixel * g.c;
        for (Eigen::Index c = 0; c < g.c; ++c)
            to[c] += from[c];
    });
}

// Output channel c·M + m is input channel c under kernel[:, :, c, m] (Keras's order).
template <typename T>
Matrix<T> depthwise_forward(const Node& node, const Matrix<T>& x, const T* theta) {
    const auto g = geometry(node, x);
    const int m_count = node.multiplier;
    const T* kernel = slot_data(node, "kernel", theta);
    Matrix<T> y = Matrix<T>::Zero(g.n, node.out.size());
    for_each_tap(node, g.n, [&](Eigen::Index n, Eigen::Index position, Eigen::Index tap, Eigen::Index pixel) {
        T* out = y.row(n).data() + position * g.co;
        const T* in = x.row(n).data() + pixel * g.c;
        const T* k = kernel + tap * g.co;
        for (Eigen::Index c = 0; c < g.c; ++c)
            for (int m = 0; m < m_count; ++m)
                out[c * m_count + m] += in[c] * k[c * m_count + m];
    });
    if (const T* bias = slot_data(node, "bias", theta))
        MutableMap<T>(y.data(), g.n * g.ho * g.wo, g.co).rowwise() +=
            Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias, g.co);
    return y;
}

template <typename T>
void depthwise_backward(const Node& node, const Matrix<T>& x, const Matrix<T>& dy, const T* theta,
                        T* gradient, Matrix<T>* dx) {
    const auto g = geometry(node, x);
    const int m_count = node.multiplier;
    const T* kernel = slot_data(node, "kernel", theta);
    T* dkernel = slot_data(node, "kernel", gradient);
    if (T* dbias = slot_data(node, "bias", gradient))
        Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(dbias, g.co) +=
            ConstMap<T>(dy.data(), g.n * g.ho * g.wo, g.co).colwise().sum();
    for_each_tap(node, g.n, [&](Eigen::Index n, Eigen::Index position, Eigen::Index tap, Eigen::Index pixel) {
        const T* d = dy.row(n).data() + position * g.co;
        const T* in = x.row(n).data() + pixel * g.c;
        const Eigen::Index k0 = tap * g.co;
        for (Eigen::Index c = 0; c < g.c; ++c)
            for (int m = 0; m < m_count; ++m) {
                const Eigen::Index k = c * m_count + m;
                dkernel[k0 + k] += in[c] * d[k];
                if (dx)
                    (*dx)(n, pixel * g.c + c) += kernel[k0 + k] * d[k];
            }
    });
}

#define QUANTLENS_LINEAR_OPS(T)                                                                        \
    template Matrix<T> dense_forward<T>(const Node&, const Matrix<T>&, const T*);                      \
    template void dense_backward<T>(const Node&, const Matrix<T>&, const Matrix<T>&, const T*, T*,     \
                                    Matrix<T>*);                                                       \
    template Matrix<T> im2col<T>(const Node&, const Matrix<T>&);                                       \
    template Matrix<T> conv2d_forward<T>(const Node&, const Matrix<T>&, const T*);                     \
    template void conv2d_backward<T>(const Node&, const Matrix<T>&, const Matrix<T>&, const T*, T*,    \
                                     Matrix<T>*);                                                      \
    template Matrix<T> depthwise_forward<T>(const Node&, const Matrix<T>&, const T*);                  \
    template void depthwise_backward<T>(const Node&, const Matrix<T>&, const Matrix<T>&, const T*, T*, \
                                        Matrix<T>*);
QUANTLENS_LINEAR_OPS(float)
QUANTLENS_LINEAR_OPS(double)
QUANTLENS_LINEAR_OPS(Dual)

}  // namespace quantlens::nn
