// The pieces of decoder-only transformers: token and learned position embeddings, LayerNorm
// and RMSNorm over the features of each token (or head), causal multi-head attention
// (grouped-query, with Hugging Face's rotary embeddings, optionally windowed and soft-capped),
// and the feature slice of a fused gate|up projection.
#include <cmath>
#include <limits>

#include "nn/ops.hpp"
#include "nn/products.hpp"
#include "util/error.hpp"
#include "util/parallel.hpp"

namespace quantlens::nn {

namespace {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

using std::sqrt;  // called unqualified, so a Dual argument finds its own (nn/dual.hpp)

std::int64_t checked_id(double value, std::int64_t vocabulary) {
    const auto id = static_cast<std::int64_t>(value);
    if (!(value >= 0) || id >= vocabulary || static_cast<double>(id) != value)
        throw Error("", "token id",
                    std::to_string(value) + " is not in the vocabulary of " + std::to_string(vocabulary));
    return id;
}

// cos and sin of position t and frequency i, times the rotary factor: the inverse frequencies are
// the builder's (nn/rope.cpp), LlamaRotaryEmbedding's inv_freq and attention_scaling.
struct Rotary {
    RowMatrix<double> cos, sin;  // [tokens, head_dim / 2]
    Rotary(std::int64_t tokens, const Node& node)
        : cos(tokens, static_cast<Eigen::Index>(node.rope_inv_freq.size())), sin(cos.rows(), cos.cols()) {
        for (Eigen::Index i = 0; i < cos.cols(); ++i)
            for (std::int64_t t = 0; t < tokens; ++t) {
                const double angle = static_cast<double>(t) * node.rope_inv_freq[static_cast<std::size_t>(i)];
                cos(t, i) = std::cos(angle) * node.rope_factor;
                sin(t, i) = std::sin(angle) * node.rope_factor;
            }
    }
    // x·cos + rotate_half(x)·sin (inverse = true: the transpose, for backward)
    template <typename M>
    void apply(M&& x, bool inverse) const {
        if (cos.cols() == 0)
            return;  // no rotary embedding (GPT-2)
        const auto half = x.cols() / 2;
        for (Eigen::Index t = 0; t < x.rows(); ++t)
            for (Eigen::Index i = 0; i < half; ++i) {
                const auto a = x(t, i), b = x(t, i + half);
                using S = std::decay_t<decltype(a)>;
                const S c = static_cast<S>(cos(t, i)), s = static_cast<S>(inverse ? -sin(t, i) : sin(t, i));
                x(t, i) = a * c - b * s;
                x(t, i + half) = b * c + a * s;
            }
    }
};

struct AttentionLayout {
    Eigen::Index tokens, width_q, width_k, q_offset, k_offset, v_offset;  // within each input's token row
    int q_input, k_input, v_input;
};

AttentionLayout layout_of(const Node& node) {
    const Eigen::Index tokens = node.out.dims[0], q = Eigen::Index(node.heads) * node.head_dim,
                       kv = Eigen::Index(node.kv_heads) * node.head_dim;
    if (node.inputs.size() == 1)
        return {tokens, q + 2 * kv, q + 2 * kv, 0, q, q + kv, 0, 0, 0};  // fused q|k|v (GPT-2's c_attn)
    return {tokens, q, kv, 0, 0, 0, 0, 1, 2};
}

// Calls body(n, g) for every sample n and key/value group g, on every core once the work is large
// enough: what one (n, g) writes (its heads' q columns, its group's k and v columns) is its own.
template <class Body>
void for_each_group(const Node& node, Eigen::Index samples, Eigen::Index tokens, Body&& body) {
    const Eigen::Index work =
        std::max<Eigen::Index>(1, tokens * tokens * node.head_dim * (node.heads / node.kv_heads));
    parallel_for(static_cast<std::size_t>(samples * node.kv_heads),
                 static_cast<std::size_t>(std::max<Eigen::Index>(1, (Eigen::Index(1) << 21) / work)),
                 [&](std::size_t begin, std::size_t end) {
                     for (auto item = static_cast<Eigen::Index>(begin); item < static_cast<Eigen::Index>(end);
                          ++item)
                         body(item / node.kv_heads, static_cast<int>(item % node.kv_heads));
                 });
}

template <typename T>
T score_scale(const Node& node) {
    return node.attention_scale > 0 ? static_cast<T>(node.attention_scale)
                                    : T(1) / sqrt(static_cast<T>(node.head_dim));
}

// softmax(cap·tanh(q·kᵀ·scale / cap)) row by row (no cap: softmax(q·kᵀ·scale)), each token
// attending to itself and the tokens before it, the last `sliding_window` of them when windowed.
// `tanh_of`, when given, receives the tanh for backward.
template <typename T>
RowMatrix<T> attention_probabilities(const Node& node, const RowMatrix<T>& q, const RowMatrix<T>& k,
                                     RowMatrix<T>* tanh_of = nullptr) {
    RowMatrix<T> p = product(q, k.transpose());
    p *= score_scale<T>(node);
    if (node.softcap > 0) {
        const T cap = static_cast<T>(node.softcap);
        RowMatrix<T> t = (p.array() / cap).tanh().matrix();
        p = t * cap;
        if (tanh_of)
            *tanh_of = std::move(t);
    }
    const Eigen::Index window = node.sliding_window > 0 ? node.sliding_window : p.cols();
    for (Eigen::Index i = 0; i < p.rows(); ++i) {
        for (Eigen::Index j = 0; j < p.cols(); ++j)
            if (j > i || j <= i - window)
                p(i, j) = -std::numeric_limits<T>::infinity();
        p.row(i).array() = (p.row(i).array() - p.row(i).maxCoeff()).exp();
        p.row(i) /= p.row(i).sum();
    }
    return p;
}

}  // namespace

template <typename T>
Matrix<T> embedding_forward(const Node& node, const Matrix<T>& ids, const T* theta) {
    const auto& slot = node.parameters.front();
    const Eigen::Index vocabulary = slot.shape[0], d = slot.shape[1];
    Matrix<T> y(ids.rows(), ids.cols() * d);
    for (Eigen::Index n = 0; n < ids.rows(); ++n)
        for (Eigen::Index t = 0; t < ids.cols(); ++t) {
            const auto id = checked_id(static_cast<double>(ids(n, t)), vocabulary);
            std::copy(theta + slot.offset + id * d, theta + slot.offset + (id + 1) * d,
                      y.row(n).data() + t * d);
        }
    if (node.embedding_scale != 1)
        y *= static_cast<T>(node.embedding_scale);
    return y;
}

template <typename T>
void embedding_backward(const Node& node, const Matrix<T>& ids, const Matrix<T>& dy, T* gradient) {
    const auto& slot = node.parameters.front();
    const Eigen::Index vocabulary = slot.shape[0], d = slot.shape[1];
    for (Eigen::Index n = 0; n < ids.rows(); ++n)
        for (Eigen::Index t = 0; t < ids.cols(); ++t) {
            const auto id = checked_id(static_cast<double>(ids(n, t)), vocabulary);
            T* row = gradient + slot.offset + id * d;
            const T* from = dy.row(n).data() + t * d;
            const auto scale = static_cast<T>(node.embedding_scale);
            for (Eigen::Index k = 0; k < d; ++k)
                row[k] += from[k] * scale;
        }
}

template <typename T>
Matrix<T> position_forward(const Node& node, const Matrix<T>& x, const T* theta) {
    const auto& slot = node.parameters.front();
    const Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>> positions(
        theta + slot.offset, x.cols());  // the first `tokens` rows, flat
    return x.rowwise() + positions;
}

template <typename T>
void position_backward(const Node& node, const Matrix<T>& dy, T* gradient, Matrix<T>* dx) {
    const auto& slot = node.parameters.front();
    Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(gradient + slot.offset, dy.cols()) += dy.colwise().sum();
    if (dx)
        *dx += dy;
}

// LayerNorm: (x − μ)/√(σ² + ε)·γ + β; RMSNorm: x/√(mean x² + ε)·γ. Over each token's features
// (or each head's, when the node's input shape is {tokens, heads, head_dim}: Qwen3's q/k norms).
// With a gamma offset the scale is (offset + γ), as Gemma's norms compute it.
template <typename T>
Matrix<T> norm_forward(const Node& node, const Matrix<T>& x, const T* theta) {
    const Eigen::Index d = node.in.last(), rows = x.size() / d;
    const bool layer_norm = node.kind == OpKind::LayerNorm;
    const auto* gamma = node.slot("gamma");
    const auto* beta = node.slot("beta");
    const auto offset = static_cast<T>(node.gamma_offset);
    Matrix<T> y(x.rows(), x.cols());
    Eigen::Map<const RowMatrix<T>> xs(x.data(), rows, d);
    Eigen::Map<RowMatrix<T>> ys(y.data(), rows, d);
    for (Eigen::Index r = 0; r < rows; ++r) {
        const T mean = layer_norm ? xs.row(r).mean() : T(0);
        const auto centred = (xs.row(r).array() - mean).eval();
        const T scale = T(1) / sqrt(centred.square().mean() + static_cast<T>(node.epsilon));
        ys.row(r) = centred * scale;
        if (gamma)
            ys.row(r).array() *=
                Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>(theta + gamma->offset, d) + offset;
        if (beta)
            ys.row(r).array() +=
                Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>(theta + beta->offset, d);
    }
    return y;
}

template <typename T>
void norm_backward(const Node& node, const Matrix<T>& x, const Matrix<T>& dy, const T* theta, T* gradient,
                   Matrix<T>* dx) {
    const Eigen::Index d = node.in.last(), rows = x.size() / d;
    const bool layer_norm = node.kind == OpKind::LayerNorm;
    const auto* gamma = node.slot("gamma");
    const auto* beta = node.slot("beta");
    const auto offset = static_cast<T>(node.gamma_offset);
    Eigen::Map<const RowMatrix<T>> xs(x.data(), rows, d), dys(dy.data(), rows, d);
    for (Eigen::Index r = 0; r < rows; ++r) {
        const T mean = layer_norm ? xs.row(r).mean() : T(0);
        const auto centred = (xs.row(r).array() - mean).eval();
        const T scale = T(1) / sqrt(centred.square().mean() + static_cast<T>(node.epsilon));
        const auto normalised = (centred * scale).eval();
        if (gamma)
            Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>>(gradient + gamma->offset, d) +=
                dys.row(r).array() * normalised;
        if (beta)
            Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>>(gradient + beta->offset, d) += dys.row(r).array();
        if (!dx)
            continue;
        auto dn = dys.row(r).array().eval();
        if (gamma)
            dn *= Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>(theta + gamma->offset, d) + offset;
        auto g = (dn - (dn * normalised).mean() * normalised).eval();
        if (layer_norm)
            g -= dn.mean();
        Eigen::Map<RowMatrix<T>>(dx->data(), rows, d).row(r).array() += scale * g;
    }
}

// Each token's features [offset, offset + width): x is {tokens, in width}, y {tokens, width}.
template <typename T>
Matrix<T> slice_forward(const Node& node, const Matrix<T>& x) {
    const Eigen::Index in = node.in.last(), width = node.out.last(), rows = x.size() / in;
    Matrix<T> y(x.rows(), x.cols() / in * width);
    Eigen::Map<RowMatrix<T>>(y.data(), rows, width) =
        Eigen::Map<const RowMatrix<T>>(x.data(), rows, in).middleCols(node.slice_offset, width);
    return y;
}

template <typename T>
void slice_backward(const Node& node, const Matrix<T>& dy, Matrix<T>* dx) {
    if (!dx)
        return;
    const Eigen::Index in = node.in.last(), width = node.out.last(), rows = dy.size() / width;
    Eigen::Map<RowMatrix<T>>(dx->data(), rows, in).middleCols(node.slice_offset, width) +=
        Eigen::Map<const RowMatrix<T>>(dy.data(), rows, width);
}

template <typename T>
Matrix<T> attention_forward(const Node& node, const Inputs<T>& inputs) {
    const auto l = layout_of(node);
    const int hd = node.head_dim, group = node.heads / node.kv_heads;
    const Rotary rotary(l.tokens, node);
    const Eigen::Index samples = inputs.front()->rows();
    Matrix<T> y(samples, l.tokens * Eigen::Index(node.heads) * hd);
    for_each_group(node, samples, l.tokens, [&](Eigen::Index n, int g) {
        Eigen::Map<const RowMatrix<T>> q_all(inputs[l.q_input]->row(n).data(), l.tokens, l.width_q),
            k_all(inputs[l.k_input]->row(n).data(), l.tokens, l.width_k),
            v_all(inputs[l.v_input]->row(n).data(), l.tokens, l.width_k);
        Eigen::Map<RowMatrix<T>> out(y.row(n).data(), l.tokens, Eigen::Index(node.heads) * hd);
        for (int h = g * group; h < (g + 1) * group; ++h) {
            RowMatrix<T> q = q_all.middleCols(l.q_offset + Eigen::Index(h) * hd, hd),
                         k = k_all.middleCols(l.k_offset + Eigen::Index(g) * hd, hd);
            rotary.apply(q, false);
            rotary.apply(k, false);
            const RowMatrix<T> p = attention_probabilities(node, q, k);
            multiply(out.middleCols(Eigen::Index(h) * hd, hd), p,
                     v_all.middleCols(l.v_offset + Eigen::Index(g) * hd, hd));
        }
    });
    return y;
}

template <typename T>
void attention_backward(const Node& node, const Inputs<T>& inputs, const Matrix<T>& dy,
                        const InputGradients<T>& dx) {
    const auto l = layout_of(node);
    const int hd = node.head_dim, group = node.heads / node.kv_heads;
    const Rotary rotary(l.tokens, node);
    for_each_group(node, dy.rows(), l.tokens, [&](Eigen::Index n, int g) {
        Eigen::Map<const RowMatrix<T>> q_all(inputs[l.q_input]->row(n).data(), l.tokens, l.width_q),
            k_all(inputs[l.k_input]->row(n).data(), l.tokens, l.width_k),
            v_all(inputs[l.v_input]->row(n).data(), l.tokens, l.width_k),
            d_out(dy.row(n).data(), l.tokens, Eigen::Index(node.heads) * hd);
        auto target = [&](int input) -> T* {
            return dx[static_cast<std::size_t>(input)] ? dx[static_cast<std::size_t>(input)]->row(n).data()
                                                       : nullptr;
        };
        for (int h = g * group; h < (g + 1) * group; ++h) {
            RowMatrix<T> q = q_all.middleCols(l.q_offset + Eigen::Index(h) * hd, hd),
                         k = k_all.middleCols(l.k_offset + Eigen::Index(g) * hd, hd);
            rotary.apply(q, false);
            rotary.apply(k, false);
            RowMatrix<T> capped;
            const RowMatrix<T> p = attention_probabilities(node, q, k, &capped);
            const auto v = v_all.middleCols(l.v_offset + Eigen::Index(g) * hd, hd);
            const auto d_o = d_out.middleCols(Eigen::Index(h) * hd, hd);
            const RowMatrix<T> dp = product(d_o, v.transpose());
            RowMatrix<T> ds =
                (p.array() * (dp.array().colwise() - (dp.array() * p.array()).rowwise().sum())).matrix() *
                score_scale<T>(node);
            if (node.softcap > 0)
                ds.array() *= T(1) - capped.array().square();
            RowMatrix<T> dq = product(ds, k), dk = product(ds.transpose(), q);
            rotary.apply(dq, true);
            rotary.apply(dk, true);
            if (T* d = target(l.q_input))
                Eigen::Map<RowMatrix<T>>(d, l.tokens, l.width_q)
                    .middleCols(l.q_offset + Eigen::Index(h) * hd, hd) += dq;
            if (T* d = target(l.k_input))
                Eigen::Map<RowMatrix<T>>(d, l.tokens, l.width_k)
                    .middleCols(l.k_offset + Eigen::Index(g) * hd, hd) += dk;
            if (T* d = target(l.v_input))
                multiply(Eigen::Map<RowMatrix<T>>(d, l.tokens, l.width_k)
                             .middleCols(l.v_offset + Eigen::Index(g) * hd, hd),
                         p.transpose(), d_o, true);
        }
    });
}

Matrix<double> norm_relevance_vjp(const Node& node, const Matrix<double>& x, const Matrix<double>& s,
                                  const double* theta) {
    const Eigen::Index d = node.in.last(), rows = x.size() / d;
    const auto* gamma = node.slot("gamma");
    Matrix<double> c(x.rows(), x.cols());
    Eigen::Map<const RowMatrix<double>> xs(x.data(), rows, d), ss(s.data(), rows, d);
    Eigen::Map<RowMatrix<double>> cs(c.data(), rows, d);
    for (Eigen::Index r = 0; r < rows; ++r) {
        const double mean = node.kind == OpKind::LayerNorm ? xs.row(r).mean() : 0.0;
        const double scale =
            1.0 / std::sqrt((xs.row(r).array() - mean).square().mean() + node.epsilon);  // held constant
        auto g = (ss.row(r).array() * scale).eval();
        if (gamma)
            g *= Eigen::Map<const Eigen::Array<double, 1, Eigen::Dynamic>>(theta + gamma->offset, d) +
                 node.gamma_offset;
        if (node.kind == OpKind::LayerNorm)
            g -= g.mean();  // the centring is linear too
        cs.row(r) = g.matrix();
    }
    return c;
}

void attention_value_relevance_vjp(const Node& node, const Inputs<double>& inputs, const Matrix<double>& s,
                                   const InputGradients<double>& into) {
    const auto l = layout_of(node);
    const int hd = node.head_dim, group = node.heads / node.kv_heads;
    const Rotary rotary(l.tokens, node);
    for (Eigen::Index n = 0; n < s.rows(); ++n) {
        Eigen::Map<const RowMatrix<double>> q_all(inputs[l.q_input]->row(n).data(), l.tokens, l.width_q),
            k_all(inputs[l.k_input]->row(n).data(), l.tokens, l.width_k),
            s_out(s.row(n).data(), l.tokens, Eigen::Index(node.heads) * hd);
        if (!into[static_cast<std::size_t>(l.v_input)])
            continue;
        Eigen::Map<RowMatrix<double>> c_v(into[static_cast<std::size_t>(l.v_input)]->row(n).data(), l.tokens,
                                          l.width_k);
        for (int h = 0; h < node.heads; ++h) {
            const int g = h / group;
            RowMatrix<double> q = q_all.middleCols(l.q_offset + Eigen::Index(h) * hd, hd),
                              k = k_all.middleCols(l.k_offset + Eigen::Index(g) * hd, hd);
            rotary.apply(q, false);
            rotary.apply(k, false);
            c_v.middleCols(l.v_offset + Eigen::Index(g) * hd, hd) +=
                attention_probabilities(node, q, k).transpose() * s_out.middleCols(Eigen::Index(h) * hd, hd);
        }
    }
}

#define QUANTLENS_TRANSFORMER_OPS(T)                                                              \
    template Matrix<T> embedding_forward<T>(const Node&, const Matrix<T>&, const T*);             \
    template void embedding_backward<T>(const Node&, const Matrix<T>&, const Matrix<T>&, T*);     \
    template Matrix<T> position_forward<T>(const Node&, const Matrix<T>&, const T*);              \
    template void position_backward<T>(const Node&, const Matrix<T>&, T*, Matrix<T>*);            \
    template Matrix<T> norm_forward<T>(const Node&, const Matrix<T>&, const T*);                  \
    template void norm_backward<T>(const Node&, const Matrix<T>&, const Matrix<T>&, const T*, T*, \
                                   Matrix<T>*);                                                   \
    template Matrix<T> slice_forward<T>(const Node&, const Matrix<T>&);                           \
    template void slice_backward<T>(const Node&, const Matrix<T>&, Matrix<T>*);                   \
    template Matrix<T> attention_forward<T>(const Node&, const Inputs<T>&);                       \
    template void attention_backward<T>(const Node&, const Inputs<T>&, const Matrix<T>&,          \
                                        const InputGradients<T>&);
QUANTLENS_TRANSFORMER_OPS(float)
QUANTLENS_TRANSFORMER_OPS(double)
QUANTLENS_TRANSFORMER_OPS(Dual)

}  // namespace quantlens::nn
