// Dense, Conv2D (as im2col and one matrix product, so Eigen's blocked GEMM does the work) and
// DepthwiseConv2D (a direct loop: each channel has its own small kernel).
#include "nn/ops.hpp"

namespace quantlens::nn {

namespace {

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
    return {x.rows(), node.in.dims[0], node.in.dims[1], node.in.dims[2], node.out.dims[0], node.out.dims[1], node.out.dims[2]};
}

}  // namespace

template <typename T>
Matrix<T> dense_forward(const Node& node, const Matrix<T>& x, const T* theta) {
    const Eigen::Index in = node.in.last(), out = node.out.last(), rows = x.size() / in;
    const ConstMap<T> xs(x.data(), rows, in);
    Matrix<T> y(x.rows(), node.out.size());
    MutableMap<T> ys(y.data(), rows, out);
    if (node.transposed) ys.noalias() = xs * ConstMap<T>(slot_data(node, "kernel", theta), out, in).transpose();
    else ys.noalias() = xs * ConstMap<T>(slot_data(node, "kernel", theta), in, out);
    if (const T* bias = slot_data(node, "bias", theta)) ys.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias, out);
    return y;
}

template <typename T>
void dense_backward(const Node& node, const Matrix<T>& x, const Matrix<T>& dy, const T* theta, T* gradient, Matrix<T>* dx) {
    const Eigen::Index in = node.in.last(), out = node.out.last(), rows = x.size() / in;
    const ConstMap<T> xs(x.data(), rows, in), dys(dy.data(), rows, out);
    if (node.transposed) {  // kernel [out, in]
        const ConstMap<T> kernel(slot_data(node, "kernel", theta), out, in);
        MutableMap<T>(slot_data(node, "kernel", gradient), out, in).noalias() += dys.transpose() * xs;
        if (dx) MutableMap<T>(dx->data(), rows, in).noalias() += dys * kernel;
    } else {
        const ConstMap<T> kernel(slot_data(node, "kernel", theta), in, out);
        MutableMap<T>(slot_data(node, "kernel", gradient), in, out).noalias() += xs.transpose() * dys;
        if (dx) MutableMap<T>(dx->data(), rows, in).noalias() += dys * kernel.transpose();
    }
    if (T* bias = slot_data(node, "bias", gradient)) Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias, out) += dys.colwise().sum();
}

template <typename T>
Matrix<T> im2col(const Node& node, const Matrix<T>& x) {
    const auto g = geometry(node, x);
    const auto& win = node.window;
    Matrix<T> patches = Matrix<T>::Zero(g.n * g.ho * g.wo, Eigen::Index(win.kh) * win.kw * g.c);
    for (Eigen::Index n = 0; n < g.n; ++n)
        for (Eigen::Index ho = 0; ho < g.ho; ++ho)
            for (Eigen::Index wo = 0; wo < g.wo; ++wo) {
                T* row = patches.row((n * g.ho + ho) * g.wo + wo).data();
                for (int i = 0; i < win.kh; ++i) {
                    const Eigen::Index hi = ho * win.sh + i - win.pad_top;
                    if (hi < 0 || hi >= g.h) continue;
                    for (int j = 0; j < win.kw; ++j) {
                        const Eigen::Index wi = wo * win.sw + j - win.pad_left;
                        if (wi < 0 || wi >= g.w) continue;
                        const T* pixel = x.row(n).data() + (hi * g.w + wi) * g.c;
                        std::copy(pixel, pixel + g.c, row + (i * win.kw + j) * g.c);
                    }
                }
            }
    return patches;
}

template <typename T>
Matrix<T> conv2d_forward(const Node& node, const Matrix<T>& x, const T* theta) {
    const auto g = geometry(node, x);
    const Matrix<T> patches = im2col(node, x);
    const ConstMap<T> kernel(slot_data(node, "kernel", theta), patches.cols(), g.co);
    Matrix<T> y(g.n, node.out.size());
    MutableMap<T> ys(y.data(), patches.rows(), g.co);
    ys.noalias() = patches * kernel;
    if (const T* bias = slot_data(node, "bias", theta)) ys.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias, g.co);
    return y;
}

template <typename T>
void conv2d_backward(const Node& node, const Matrix<T>& x, const Matrix<T>& dy, const T* theta, T* gradient, Matrix<T>* dx) {
    const auto g = geometry(node, x);
    const auto& win = node.window;
    const Matrix<T> patches = im2col(node, x);
    const ConstMap<T> dys(dy.data(), patches.rows(), g.co), kernel(slot_data(node, "kernel", theta), patches.cols(), g.co);
    MutableMap<T>(slot_data(node, "kernel", gradient), patches.cols(), g.co).noalias() += patches.transpose() * dys;
    if (T* bias = slot_data(node, "bias", gradient)) Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias, g.co) += dys.colwise().sum();
    if (!dx) return;
    const Matrix<T> dpatches = dys * kernel.transpose();  // col2im: each patch value back to its pixel
    for (Eigen::Index n = 0; n < g.n; ++n)
        for (Eigen::Index ho = 0; ho < g.ho; ++ho)
            for (Eigen::Index wo = 0; wo < g.wo; ++wo) {
                const T* row = dpatches.row((n * g.ho + ho) * g.wo + wo).data();
                for (int i = 0; i < win.kh; ++i) {
                    const Eigen::Index hi = ho * win.sh + i - win.pad_top;
                    if (hi < 0 || hi >= g.h) continue;
                    for (int j = 0; j < win.kw; ++j) {
                        const Eigen::Index wi = wo * win.sw + j - win.pad_left;
                        if (wi < 0 || wi >= g.w) continue;
                        T* pixel = dx->row(n).data() + (hi * g.w + wi) * g.c;
                        const T* from = row + (i * win.kw + j) * g.c;
                        for (Eigen::Index c = 0; c < g.c; ++c) pixel[c] += from[c];
                    }
                }
            }
}

// Output channel c·M + m is input channel c under kernel[:, :, c, m] (Keras's order).
template <typename T>
Matrix<T> depthwise_forward(const Node& node, const Matrix<T>& x, const T* theta) {
    const auto g = geometry(node, x);
    const auto& win = node.window;
    const int m_count = node.multiplier;
    const T* kernel = slot_data(node, "kernel", theta);
    const T* bias = slot_data(node, "bias", theta);
    Matrix<T> y(g.n, node.out.size());
    for (Eigen::Index n = 0; n < g.n; ++n)
        for (Eigen::Index ho = 0; ho < g.ho; ++ho)
            for (Eigen::Index wo = 0; wo < g.wo; ++wo) {
                T* out = y.row(n).data() + (ho * g.wo + wo) * g.co;
                for (Eigen::Index k = 0; k < g.co; ++k) out[k] = bias ? bias[k] : T(0);
                for (int i = 0; i < win.kh; ++i) {
                    const Eigen::Index hi = ho * win.sh + i - win.pad_top;
                    if (hi < 0 || hi >= g.h) continue;
                    for (int j = 0; j < win.kw; ++j) {
                        const Eigen::Index wi = wo * win.sw + j - win.pad_left;
                        if (wi < 0 || wi >= g.w) continue;
                        const T* pixel = x.row(n).data() + (hi * g.w + wi) * g.c;
                        const T* k = kernel + (i * win.kw + j) * g.c * m_count;
                        for (Eigen::Index c = 0; c < g.c; ++c)
                            for (int m = 0; m < m_count; ++m) out[c * m_count + m] += pixel[c] * k[c * m_count + m];
                    }
                }
            }
    return y;
}

template <typename T>
void depthwise_backward(const Node& node, const Matrix<T>& x, const Matrix<T>& dy, const T* theta, T* gradient, Matrix<T>* dx) {
    const auto g = geometry(node, x);
    const auto& win = node.window;
    const int m_count = node.multiplier;
    const T* kernel = slot_data(node, "kernel", theta);
    T* dkernel = slot_data(node, "kernel", gradient);
    T* dbias = slot_data(node, "bias", gradient);
    for (Eigen::Index n = 0; n < g.n; ++n)
        for (Eigen::Index ho = 0; ho < g.ho; ++ho)
            for (Eigen::Index wo = 0; wo < g.wo; ++wo) {
                const T* d = dy.row(n).data() + (ho * g.wo + wo) * g.co;
                if (dbias)
                    for (Eigen::Index k = 0; k < g.co; ++k) dbias[k] += d[k];
                for (int i = 0; i < win.kh; ++i) {
                    const Eigen::Index hi = ho * win.sh + i - win.pad_top;
                    if (hi < 0 || hi >= g.h) continue;
                    for (int j = 0; j < win.kw; ++j) {
                        const Eigen::Index wi = wo * win.sw + j - win.pad_left;
                        if (wi < 0 || wi >= g.w) continue;
                        const Eigen::Index at = (hi * g.w + wi) * g.c;
                        const T* pixel = x.row(n).data() + at;
                        const Eigen::Index k0 = (i * win.kw + j) * g.c * m_count;
                        for (Eigen::Index c = 0; c < g.c; ++c)
                            for (int m = 0; m < m_count; ++m) {
                                const Eigen::Index k = c * m_count + m;
                                dkernel[k0 + k] += pixel[c] * d[k];
                                if (dx) (*dx)(n, at + c) += kernel[k0 + k] * d[k];
                            }
                    }
                }
            }
}

#define QUANTLENS_LINEAR_OPS(T)                                                                               \
    template Matrix<T> dense_forward<T>(const Node&, const Matrix<T>&, const T*);                            \
    template void dense_backward<T>(const Node&, const Matrix<T>&, const Matrix<T>&, const T*, T*, Matrix<T>*); \
    template Matrix<T> im2col<T>(const Node&, const Matrix<T>&);                                             \
    template Matrix<T> conv2d_forward<T>(const Node&, const Matrix<T>&, const T*);                           \
    template void conv2d_backward<T>(const Node&, const Matrix<T>&, const Matrix<T>&, const T*, T*, Matrix<T>*); \
    template Matrix<T> depthwise_forward<T>(const Node&, const Matrix<T>&, const T*);                        \
    template void depthwise_backward<T>(const Node&, const Matrix<T>&, const Matrix<T>&, const T*, T*, Matrix<T>*);
QUANTLENS_LINEAR_OPS(float)
QUANTLENS_LINEAR_OPS(double)

}  // namespace quantlens::nn
