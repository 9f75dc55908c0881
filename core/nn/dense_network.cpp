#include "nn/dense_network.hpp"

#include <cmath>
#include <map>

#include "util/error.hpp"

namespace quantlens {

namespace {

Activation activation_named(const std::string& name, const std::string& path, const std::string& layer) {
    if (name == "linear" || name.empty()) return Activation::Linear;
    if (name == "relu") return Activation::Relu;
    if (name == "tanh") return Activation::Tanh;
    if (name == "sigmoid") return Activation::Sigmoid;
    if (name == "softmax") return Activation::Softmax;
    throw Error(path, "layer \"" + layer + "\" activation", "\"" + name + "\" is not supported (linear, relu, tanh, sigmoid, softmax as the last)");
}

// σ'(z) and σ''(z) elementwise for the hidden activations (softmax only ends the network).
Eigen::ArrayXXd first_derivative(Activation a, const Eigen::ArrayXXd& z) {
    switch (a) {
        case Activation::Relu: return (z > 0).cast<double>();
        case Activation::Tanh: return 1 - z.tanh().square();
        case Activation::Sigmoid: { const Eigen::ArrayXXd s = 1 / (1 + (-z).exp()); return s * (1 - s); }
        default: return Eigen::ArrayXXd::Ones(z.rows(), z.cols());
    }
}

Eigen::ArrayXXd second_derivative(Activation a, const Eigen::ArrayXXd& z) {
    switch (a) {
        case Activation::Tanh: { const Eigen::ArrayXXd t = z.tanh(); return -2 * t * (1 - t.square()); }
        case Activation::Sigmoid: { const Eigen::ArrayXXd s = 1 / (1 + (-z).exp()); return s * (1 - s) * (1 - 2 * s); }
        default: return Eigen::ArrayXXd::Zero(z.rows(), z.cols());  // ReLU: 0 almost everywhere, as autograd takes it
    }
}

Eigen::ArrayXXd apply(Activation a, const Eigen::ArrayXXd& z) {
    switch (a) {
        case Activation::Relu: return z.max(0.0);
        case Activation::Tanh: return z.tanh();
        case Activation::Sigmoid: return 1 / (1 + (-z).exp());
        default: return z;
    }
}

Eigen::MatrixXd softmax_rows(const Eigen::MatrixXd& logits) {
    Eigen::MatrixXd p = logits.colwise() - logits.rowwise().maxCoeff();
    p = p.array().exp();
    p.array().colwise() /= p.rowwise().sum().array();
    return p;
}

void check_labels(const std::vector<std::int64_t>& labels, Eigen::Index samples, Eigen::Index classes) {
    if (static_cast<Eigen::Index>(labels.size()) != samples)
        throw Error("", "labels", std::to_string(labels.size()) + " labels for " + std::to_string(samples) + " samples");
    for (std::size_t i = 0; i < labels.size(); ++i)
        if (labels[i] < 0 || labels[i] >= classes)
            throw Error("", "labels[" + std::to_string(i) + "]", "class " + std::to_string(labels[i]) + " outside the network's " + std::to_string(classes) + " outputs");
}

}  // namespace

DenseNetwork::DenseNetwork(std::vector<DenseLayer> layers) : layers_(std::move(layers)) {
    if (layers_.empty()) throw Error("", "network", "has no Dense layer");
    for (std::size_t l = 0; l < layers_.size(); ++l) {
        if (l > 0 && layers_[l].weight.cols() != layers_[l - 1].weight.rows())
            throw Error("", "layer \"" + layers_[l].name + "\"", "takes " + std::to_string(layers_[l].weight.cols()) + " inputs but the layer before gives " +
                                                                  std::to_string(layers_[l - 1].weight.rows()));
        if (layers_[l].activation == Activation::Softmax && l + 1 != layers_.size())
            throw Error("", "layer \"" + layers_[l].name + "\"", "softmax is supported on the last layer only");
    }
}

DenseNetwork DenseNetwork::from_keras(const Model& model) {
    const auto& file = model.file();
    const auto& config = file.config();
    if (!config.is_object() || !config.contains("config") || !config["config"].contains("layers"))
        throw Error(file.path(), "model_config", "the engine builds Keras models from their model_config; this file has none");
    std::map<std::string, std::string> activation_of;
    for (const auto& entry : config["config"]["layers"]) {
        const auto kind = entry.value("class_name", std::string());
        const auto& layer_config = entry.contains("config") ? entry["config"] : nlohmann::json::object();
        const auto name = layer_config.value("name", std::string());
        if (kind == "InputLayer" || kind == "Dropout" || kind == "Flatten") continue;  // no parameters; Dropout is a no-op at inference
        if (kind != "Dense")
            throw Error(file.path(), "layer \"" + name + "\"", kind + " is not supported by the engine yet (Dense stacks with linear, relu, tanh, sigmoid, softmax)");
        activation_of[name] = layer_config.value("activation", std::string("linear"));
    }
    std::vector<DenseLayer> layers;
    for (const auto& layer : model.layers()) {
        if (!activation_of.count(layer.name)) continue;
        DenseLayer dense;
        dense.name = layer.name;
        const auto weights = model.read_weights(layer);  // [out, in]
        dense.weight = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(weights.values().data(), weights.shape[0], weights.shape[1]).cast<double>();
        dense.bias = Eigen::VectorXd::Zero(dense.weight.rows());
        if (layer.bias) {
            const auto bias = file.read_f32(file.tensor(*layer.bias));
            if (static_cast<Eigen::Index>(bias.values().size()) != dense.weight.rows()) throw Error(file.path(), *layer.bias, "bias size does not match the layer's outputs");
            dense.bias = Eigen::Map<const Eigen::VectorXf>(bias.values().data(), dense.weight.rows()).cast<double>();
        }
        dense.activation = activation_named(activation_of[layer.name], file.path(), layer.name);
        layers.push_back(std::move(dense));
    }
    return DenseNetwork(std::move(layers));
}

std::vector<ParameterBlock> DenseNetwork::blocks() const {
    std::vector<ParameterBlock> result;
    std::size_t offset = 0;
    for (const auto& layer : layers_) {
        const auto size = static_cast<std::size_t>(layer.weight.size() + layer.bias.size());
        result.push_back({layer.name, offset, size});
        offset += size;
    }
    return result;
}

std::size_t DenseNetwork::parameter_count() const {
    std::size_t n = 0;
    for (const auto& block : blocks()) n += block.size;
    return n;
}

Eigen::VectorXd DenseNetwork::parameters() const {
    Eigen::VectorXd theta(static_cast<Eigen::Index>(parameter_count()));
    Eigen::Index offset = 0;
    for (const auto& layer : layers_) {
        for (Eigen::Index r = 0; r < layer.weight.rows(); ++r) theta.segment(offset + r * layer.weight.cols(), layer.weight.cols()) = layer.weight.row(r).transpose();
        offset += layer.weight.size();
        theta.segment(offset, layer.bias.size()) = layer.bias;
        offset += layer.bias.size();
    }
    return theta;
}

void DenseNetwork::set_parameters(const Eigen::VectorXd& theta) {
    Eigen::Index offset = 0;
    for (auto& layer : layers_) {
        for (Eigen::Index r = 0; r < layer.weight.rows(); ++r) layer.weight.row(r) = theta.segment(offset + r * layer.weight.cols(), layer.weight.cols()).transpose();
        offset += layer.weight.size();
        layer.bias = theta.segment(offset, layer.bias.size());
        offset += layer.bias.size();
    }
}

Eigen::MatrixXd DenseNetwork::forward(const Eigen::MatrixXd& x) const {
    if (x.cols() != layers_.front().weight.cols())
        throw Error("", "inputs", std::to_string(x.cols()) + " features per sample, the network takes " + std::to_string(layers_.front().weight.cols()));
    Eigen::MatrixXd a = x;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
        Eigen::MatrixXd z = (a * layers_[l].weight.transpose()).rowwise() + layers_[l].bias.transpose();
        a = l + 1 == layers_.size() ? z : Eigen::MatrixXd(apply(layers_[l].activation, z.array()));
    }
    return a;
}

double DenseNetwork::loss(const Eigen::MatrixXd& x, const std::vector<std::int64_t>& labels) const {
    Eigen::VectorXd ignored;
    return loss_and_gradient(x, labels, ignored);
}

double DenseNetwork::loss_and_gradient(const Eigen::MatrixXd& x, const std::vector<std::int64_t>& labels, Eigen::VectorXd& gradient) const {
    double loss = 0;
    gradient = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(parameter_count()));
    std::vector<Eigen::MatrixXd> z(layers_.size()), a(layers_.size() + 1);
    a[0] = x;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
        z[l] = (a[l] * layers_[l].weight.transpose()).rowwise() + layers_[l].bias.transpose();
        a[l + 1] = l + 1 == layers_.size() ? z[l] : Eigen::MatrixXd(apply(layers_[l].activation, z[l].array()));
    }
    const auto n = static_cast<double>(x.rows());
    check_labels(labels, x.rows(), a.back().cols());
    const Eigen::MatrixXd p = softmax_rows(a.back());
    Eigen::MatrixXd dz = p;
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
        const double shifted = a.back()(i, labels[static_cast<std::size_t>(i)]) - a.back().row(i).maxCoeff();
        loss -= shifted - std::log((a.back().row(i).array() - a.back().row(i).maxCoeff()).exp().sum());
        dz(i, labels[static_cast<std::size_t>(i)]) -= 1;
    }
    loss /= n;
    dz /= n;
    const auto blocks = this->blocks();
    for (std::size_t l = layers_.size(); l-- > 0;) {
        const Eigen::MatrixXd dw = dz.transpose() * a[l];  // [out, in]
        Eigen::Index offset = static_cast<Eigen::Index>(blocks[l].offset);
        for (Eigen::Index r = 0; r < dw.rows(); ++r) gradient.segment(offset + r * dw.cols(), dw.cols()) = dw.row(r).transpose();
        gradient.segment(offset + dw.size(), dz.cols()) = dz.colwise().sum().transpose();
        if (l == 0) break;
        const Eigen::MatrixXd da = dz * layers_[l].weight;
        dz = (da.array() * first_derivative(layers_[l - 1].activation, z[l - 1].array())).matrix();
    }
    return loss;
}

Eigen::VectorXd DenseNetwork::hessian_vector(const Eigen::MatrixXd& x, const std::vector<std::int64_t>& labels, const Eigen::VectorXd& v) const {
    if (v.size() != static_cast<Eigen::Index>(parameter_count())) throw Error("", "v", "has " + std::to_string(v.size()) + " entries for " + std::to_string(parameter_count()) + " parameters");
    const auto blocks = this->blocks();
    // v as per-layer weight and bias directions
    std::vector<Eigen::MatrixXd> vw(layers_.size());
    std::vector<Eigen::VectorXd> vb(layers_.size());
    for (std::size_t l = 0; l < layers_.size(); ++l) {
        const auto& w = layers_[l].weight;
        vw[l].resize(w.rows(), w.cols());
        const auto offset = static_cast<Eigen::Index>(blocks[l].offset);
        for (Eigen::Index r = 0; r < w.rows(); ++r) vw[l].row(r) = v.segment(offset + r * w.cols(), w.cols()).transpose();
        vb[l] = v.segment(offset + w.size(), w.rows());
    }
    // Forward with R{·}: R{z} = R{a} Wᵀ + a Vᵀ + vb, R{a} = σ'(z) ⊙ R{z}.
    std::vector<Eigen::MatrixXd> z(layers_.size()), a(layers_.size() + 1), rz(layers_.size()), ra(layers_.size() + 1);
    a[0] = x;
    ra[0] = Eigen::MatrixXd::Zero(x.rows(), x.cols());
    for (std::size_t l = 0; l < layers_.size(); ++l) {
        z[l] = (a[l] * layers_[l].weight.transpose()).rowwise() + layers_[l].bias.transpose();
        rz[l] = (ra[l] * layers_[l].weight.transpose() + a[l] * vw[l].transpose()).rowwise() + vb[l].transpose();
        const bool last = l + 1 == layers_.size();
        a[l + 1] = last ? z[l] : Eigen::MatrixXd(apply(layers_[l].activation, z[l].array()));
        ra[l + 1] = last ? rz[l] : Eigen::MatrixXd(first_derivative(layers_[l].activation, z[l].array()) * rz[l].array());
    }
    const auto n = static_cast<double>(x.rows());
    check_labels(labels, x.rows(), a.back().cols());
    // Loss: dz = (P − Y)/N; R{dz} = R{P}/N with R{P} = P ⊙ (R{z} − Σ_j P_j R{z}_j) per row.
    const Eigen::MatrixXd p = softmax_rows(a.back());
    Eigen::MatrixXd dz = p;
    for (Eigen::Index i = 0; i < x.rows(); ++i) dz(i, labels[static_cast<std::size_t>(i)]) -= 1;
    dz /= n;
    const Eigen::VectorXd mean_rz = (p.array() * ra.back().array()).rowwise().sum();
    Eigen::MatrixXd rdz = (p.array() * (ra.back().colwise() - mean_rz).array()).matrix() / n;
    Eigen::VectorXd hv(v.size());
    for (std::size_t l = layers_.size(); l-- > 0;) {
        // R{dW} = R{dz}ᵀ a + dzᵀ R{a};  R{db} = Σ R{dz}
        const Eigen::MatrixXd rdw = rdz.transpose() * a[l] + dz.transpose() * ra[l];
        const auto offset = static_cast<Eigen::Index>(blocks[l].offset);
        for (Eigen::Index r = 0; r < rdw.rows(); ++r) hv.segment(offset + r * rdw.cols(), rdw.cols()) = rdw.row(r).transpose();
        hv.segment(offset + rdw.size(), rdz.cols()) = rdz.colwise().sum().transpose();
        if (l == 0) break;
        // da = dz W;  R{da} = R{dz} W + dz V;  dz' = da ⊙ σ'(z);  R{dz'} = R{da} ⊙ σ'(z) + da ⊙ σ''(z) ⊙ R{z}
        const Eigen::MatrixXd da = dz * layers_[l].weight;
        const Eigen::MatrixXd rda = rdz * layers_[l].weight + dz * vw[l];
        const auto activation = layers_[l - 1].activation;
        const Eigen::ArrayXXd d1 = first_derivative(activation, z[l - 1].array()), d2 = second_derivative(activation, z[l - 1].array());
        dz = (da.array() * d1).matrix();
        rdz = (rda.array() * d1 + da.array() * d2 * rz[l - 1].array()).matrix();
    }
    return hv;
}

}  // namespace quantlens
