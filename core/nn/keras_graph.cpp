#include "nn/keras_graph.hpp"

#include <cmath>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "util/error.hpp"

namespace quantlens::nn {

const char* const keras_supported_layers =
    "InputLayer, Dense, Conv2D, DepthwiseConv2D, BatchNormalization, Activation, ReLU, Softmax, "
    "MaxPooling2D, AveragePooling2D, "
    "GlobalAveragePooling2D, Flatten, Dropout, Add; activations linear, relu, gelu, tanh, sigmoid, "
    "swish/silu, and softmax on the output";

namespace {

using json = nlohmann::json;

struct Builder {
    const KerasWeights& weights;
    const std::string& path;
    Graph graph;
    std::map<std::string, int> output_of;  // Keras layer name -> node index (-1: the input)

    [[noreturn]] void fail(const std::string& layer, const std::string& message) const {
        throw Error(path, "model_config layer \"" + layer + "\"", message);
    }

    ActivationKind activation(const json& value, const std::string& layer) const {
        if (value.is_null())
            return ActivationKind::Linear;
        if (!value.is_string())
            fail(layer, "activation must be a name");
        const auto name = value.get<std::string>();
        if (name == "linear")
            return ActivationKind::Linear;
        if (name == "relu")
            return ActivationKind::Relu;
        if (name == "gelu")
            return ActivationKind::Gelu;
        if (name == "tanh")
            return ActivationKind::Tanh;
        if (name == "sigmoid")
            return ActivationKind::Sigmoid;
        if (name == "swish" || name == "silu")
            return ActivationKind::Swish;
        if (name == "softmax")
            return ActivationKind::Softmax;
        fail(layer, "activation \"" + name + "\" is not supported (" + keras_supported_layers + ")");
    }

    // An integer field, or the fallback when absent; a float or an integer past ±2^31 is refused
    // here because converting it to an integer is undefined.
    std::int64_t integer_of(const json& config, const char* key, std::int64_t fallback,
                            const std::string& layer) const {
        if (!config.contains(key) || config[key].is_null())
            return fallback;
        const auto& v = config[key];
        if (!v.is_number_integer() || v.get<std::int64_t>() < -(std::int64_t{1} << 31) ||
            v.get<std::int64_t>() > (std::int64_t{1} << 31))
            fail(layer, std::string(key) + " must be an integer, found " + v.dump());
        return v.get<std::int64_t>();
    }

    std::pair<int, int> pair_of(const json& config, const char* key, std::pair<int, int> fallback,
                                const std::string& layer) const {
        if (!config.contains(key) || config[key].is_null())
            return fallback;
        const auto& v = config[key];
        auto checked = [&](const json& x) {
            if (!x.is_number_integer() || x.get<std::int64_t>() < 1 || x.get<std::int64_t>() > 4096)
                fail(layer, std::string(key) + " must be positive integers");
            return x.get<int>();
        };
        if (v.is_number())
            return {checked(v), checked(v)};
        if (!v.is_array() || v.size() != 2)
            fail(layer, std::string(key) + " must be an integer or two");
        return {checked(v[0]), checked(v[1])};
    }

    void channels_last(const json& config, const std::string& layer) const {
        const auto format = config.value("data_format", json()).is_string()
                                ? config["data_format"].get<std::string>()
                                : std::string("channels_last");
        if (format != "channels_last")
            fail(layer, "data_format \"" + format + "\" is not supported (channels_last)");
    }

    // Output size and "same" padding of a window over one axis.
    int window_axis(std::int64_t in, int k, int s, bool same, int& pad, const std::string& layer) const {
        if (same) {
            const auto out = (in + s - 1) / s;
            pad = static_cast<int>(std::max<std::int64_t>((out - 1) * s + k - in, 0) / 2);
            return static_cast<int>(out);
        }
        pad = 0;
        if (in < k)
            fail(layer,
                 "window of " + std::to_string(k) + " is larger than the input's " + std::to_string(in));
        return static_cast<int>((in - k) / s + 1);
    }

    Window window(const json& config, const Shape& in, std::pair<int, int> kernel, const std::string& layer,
                  Shape& out_hw) const {
        const auto strides = pair_of(config, "strides", kernel, layer);
        const auto padding = config.value("padding", std::string("valid"));
        if (padding != "valid" && padding != "same")
            fail(layer, "padding \"" + padding + "\" is not supported (valid, same)");
        Window w{kernel.first, kernel.second, strides.first, strides.second, 0, 0};
        const int ho = window_axis(in.dims[0], w.kh, w.sh, padding == "same", w.pad_top, layer);
        const int wo = window_axis(in.dims[1], w.kw, w.sw, padding == "same", w.pad_left, layer);
        out_hw.dims = {ho, wo};
        return w;
    }

    std::optional<std::string> tensor_named(const std::string& layer,
                                            std::initializer_list<const char*> names) const {
        return weights.find(layer, std::vector<std::string>(names.begin(), names.end()));
    }

    std::vector<float> read(const std::string& tensor, const std::vector<std::int64_t>& shape,
                            const std::string& layer) const {
        return weights.read(tensor, shape, layer);
    }

    void add_slot(Node& node, const char* slot_name, const std::string& tensor,
                  const std::vector<std::int64_t>& shape) {
        const auto values = read(tensor, shape, node.layer);
        ParameterSlot slot{slot_name, tensor, shape, graph.parameters.size(), values.size()};
        graph.parameters.insert(graph.parameters.end(), values.begin(), values.end());
        node.parameters.push_back(std::move(slot));
    }

    void require_weight(Node& node, const char* slot_name, std::initializer_list<const char*> names,
                        const std::vector<std::int64_t>& shape) {
        const auto tensor = tensor_named(node.layer, names);
        if (!tensor)
            fail(node.layer, std::string("has no ") + *names.begin() + " weight in the file");
        add_slot(node, slot_name, *tensor, shape);
    }

    int push(Node node) {
        graph.nodes.push_back(std::move(node));
        return static_cast<int>(graph.nodes.size()) - 1;
    }

    const Shape& shape_of(int node) const {
        return node < 0 ? graph.input : graph.nodes[static_cast<std::size_t>(node)].out;
    }

    // Adds the nodes of one Keras layer fed by `inputs`; returns the node that is its output.
    int add_layer(const std::string& kind, const json& config, const std::string& name,
                  const std::vector<int>& inputs) {
        if (kind == "InputLayer" || kind == "Dropout" || kind == "SpatialDropout2D")
            return inputs.empty() ? -1 : inputs.front();
        if (inputs.empty())
            fail(name, "has no input");
        Node node;
        node.name = node.layer = name;
        node.inputs = {inputs.front()};
        node.in = shape_of(inputs.front());
        ActivationKind after = ActivationKind::Linear;
        auto spatial = [&] {
            if (!node.in.spatial())
                fail(name, kind + " needs a [height, width, channels] input, it gets " + shape_text(node.in));
        };
        if (kind == "Dense") {
            node.kind = OpKind::Dense;
            const auto units = integer_of(config, "units", 0, name);
            if (units < 1)
                fail(name, "units must be positive");
            node.out = node.in;
            node.out.dims.back() = units;
            require_weight(node, "kernel", {"kernel"}, {node.in.last(), units});
            if (config.value("use_bias", true))
                require_weight(node, "bias", {"bias"}, {units});
            after = activation(config.value("activation", json("linear")), name);
        } else if (kind == "Conv2D" || kind == "DepthwiseConv2D") {
            spatial();
            channels_last(config, name);
            if (pair_of(config, "dilation_rate", {1, 1}, name) != std::pair<int, int>{1, 1})
                fail(name, "dilation_rate other than 1 is not supported");
            if (integer_of(config, "groups", 1, name) != 1)
                fail(name, "groups other than 1 are not supported");
            const auto kernel = pair_of(config, "kernel_size", {0, 0}, name);
            if (kernel.first == 0)
                fail(name, "kernel_size is missing");
            Shape hw;
            node.window = conv_window(config, node.in, kernel, name, hw);
            const auto c = node.in.last();
            if (kind == "Conv2D") {
                node.kind = OpKind::Conv2D;
                const auto filters = integer_of(config, "filters", 0, name);
                if (filters < 1)
                    fail(name, "filters must be positive");
                node.out.dims = {hw.dims[0], hw.dims[1], filters};
                require_weight(node, "kernel", {"kernel"}, {kernel.first, kernel.second, c, filters});
                if (config.value("use_bias", true))
                    require_weight(node, "bias", {"bias"}, {filters});
            } else {
                node.kind = OpKind::DepthwiseConv2D;
                const auto multiplier = integer_of(config, "depth_multiplier", 1, name);
                if (multiplier < 1 || multiplier > 4096)
                    fail(name, "depth_multiplier must be positive");
                node.multiplier = static_cast<int>(multiplier);
                node.out.dims = {hw.dims[0], hw.dims[1], c * node.multiplier};
                require_weight(node, "kernel", {"depthwise_kernel", "kernel"},
                               {kernel.first, kernel.second, c, node.multiplier});
                if (config.value("use_bias", true))
                    require_weight(node, "bias", {"bias"}, {c * node.multiplier});
            }
            after = activation(config.value("activation", json("linear")), name);
        } else if (kind == "BatchNormalization") {
            node.kind = OpKind::BatchNorm;
            node.out = node.in;
            const auto& axis = config.value("axis", json(-1));
            const auto last = static_cast<std::int64_t>(node.in.dims.size());
            const auto axis_value = axis.is_array() && axis.size() == 1 ? axis[0] : axis;
            if (!axis_value.is_number_integer() ||
                (axis_value.get<std::int64_t>() != -1 && axis_value.get<std::int64_t>() != last))
                fail(name, "normalises an axis other than the last (channels), which is not supported");
            const auto channels = node.in.last();
            const double epsilon = config.value("epsilon", 0.001);
            const auto mean_tensor = tensor_named(name, {"moving_mean"});
            const auto var_tensor = tensor_named(name, {"moving_variance"});
            if (!mean_tensor || !var_tensor)
                fail(name, "has no moving_mean / moving_variance in the file");
            const auto mean = read(*mean_tensor, {channels}, name), var = read(*var_tensor, {channels}, name);
            for (std::int64_t k = 0; k < channels; ++k) {
                if (!(var[k] + epsilon > 0))
                    throw Error(path, *var_tensor,
                                "moving variance + epsilon is not positive at channel " + std::to_string(k));
                node.scale.push_back(1 / std::sqrt(static_cast<double>(var[k]) + epsilon));
                node.shift.push_back(-static_cast<double>(mean[k]) * node.scale.back());
            }
            if (config.value("scale", true))
                require_weight(node, "gamma", {"gamma"}, {channels});
            if (config.value("center", true))
                require_weight(node, "beta", {"beta"}, {channels});
        } else if (kind == "Activation" || kind == "ReLU" || kind == "Softmax") {
            node.kind = OpKind::Activation;
            node.out = node.in;
            if (kind == "ReLU") {
                if (!config.value("max_value", json()).is_null() ||
                    config.value("negative_slope", 0.0) != 0.0 || config.value("threshold", 0.0) != 0.0)
                    fail(name, "ReLU with max_value, negative_slope or threshold is not supported");
                node.activation = ActivationKind::Relu;
            } else {
                node.activation = kind == "Softmax"
                                      ? ActivationKind::Softmax
                                      : activation(config.value("activation", json("linear")), name);
            }
        } else if (kind == "MaxPooling2D" || kind == "AveragePooling2D") {
            spatial();
            channels_last(config, name);
            node.kind = kind == "MaxPooling2D" ? OpKind::MaxPool : OpKind::AvgPool;
            const auto pool = pair_of(config, "pool_size", {2, 2}, name);
            Shape hw;
            node.window = window(config, node.in, pool, name, hw);
            node.out.dims = {hw.dims[0], hw.dims[1], node.in.last()};
        } else if (kind == "GlobalAveragePooling2D") {
            spatial();
            channels_last(config, name);
            if (config.value("keepdims", false))
                fail(name, "keepdims=true is not supported");
            node.kind = OpKind::GlobalAvgPool;
            node.out.dims = {node.in.last()};
        } else if (kind == "Flatten") {
            node.kind = OpKind::Flatten;
            node.out.dims = {node.in.size()};
        } else if (kind == "Add") {
            node.kind = OpKind::Add;
            if (inputs.size() < 2)
                fail(name, "Add needs two or more inputs");
            node.inputs = inputs;
            for (int i : inputs)
                if (shape_of(i).dims != node.in.dims)
                    fail(name,
                         "adds tensors of shapes " + shape_text(node.in) + " and " + shape_text(shape_of(i)));
            node.out = node.in;
        } else {
            fail(name, kind + " is not supported by the engine (it runs " + keras_supported_layers + ")");
        }
        if (node.kind != OpKind::Add && inputs.size() != 1)
            fail(name, kind + " takes one input, it is given " + std::to_string(inputs.size()));
        const int index = push(std::move(node));
        if (after == ActivationKind::Linear)
            return index;
        Node act;
        act.name = name + "/" + activation_name(after);
        act.layer = name;
        act.kind = OpKind::Activation;
        act.activation = after;
        act.inputs = {index};
        act.in = act.out = graph.nodes[static_cast<std::size_t>(index)].out;
        return push(std::move(act));
    }

    // A convolution's strides default to 1 (a pool's to its window).
    Window conv_window(const json& config, const Shape& in, std::pair<int, int> kernel,
                       const std::string& layer, Shape& hw) const {
        json with_strides = config;
        if (!config.contains("strides") || config["strides"].is_null())
            with_strides["strides"] = json::array({1, 1});
        return window(with_strides, in, kernel, layer, hw);
    }
};

Shape shape_from(const json& batch_shape, const std::string& path, const std::string& layer) {
    if (!batch_shape.is_array() || batch_shape.size() < 2 || batch_shape.size() > 4)
        throw Error(path, "model_config layer \"" + layer + "\"",
                    "input shape must be [batch, features] or [batch, height, width, channels]");
    Shape shape;
    for (std::size_t i = 1; i < batch_shape.size(); ++i) {
        if (!batch_shape[i].is_number_integer() || batch_shape[i].get<std::int64_t>() < 1 ||
            batch_shape[i].get<std::int64_t>() > (1 << 20))
            throw Error(path, "model_config layer \"" + layer + "\"",
                        "input dimensions must be known positive integers");
        shape.dims.push_back(batch_shape[i].get<std::int64_t>());
        if (shape.size() > kMaxInputValues)
            throw Error(path, "model_config layer \"" + layer + "\"",
                        "input of more than " + std::to_string(kMaxInputValues) + " values per sample");
    }
    if (shape.dims.size() == 2)
        throw Error(path, "model_config layer \"" + layer + "\"",
                    "inputs of rank 2 per sample (sequences) are not supported");
    return shape;
}

const json* input_shape_of(const json& config) {
    for (const char* key : {"batch_input_shape", "batch_shape"})
        if (config.contains(key) && config[key].is_array())
            return &config[key];
    return nullptr;
}

// The layer names a Functional layer's first call reads, in order (Keras 2: [[[name, 0, 0, {}], ...]];
// Keras 3: [{"args": [... {"config": {"keras_history": [name, 0, 0]}} ...], "kwargs": {}}]).
void collect_history(const json& value, std::vector<std::string>& names) {
    if (value.is_object()) {
        if (value.contains("keras_history") && value["keras_history"].is_array() &&
            !value["keras_history"].empty() && value["keras_history"][0].is_string()) {
            names.push_back(value["keras_history"][0].get<std::string>());
            return;
        }
        for (const auto& [key, item] : value.items())
            collect_history(item, names);
    } else if (value.is_array()) {
        if (!value.empty() && value[0].is_string() && value.size() >= 3 && value[1].is_number()) {
            names.push_back(value[0].get<std::string>());
            return;
        }
        for (const auto& item : value)
            collect_history(item, names);
    }
}

std::vector<std::string> single_names(const json& value) {  // input_layers / output_layers in either dialect
    std::vector<std::string> names;
    if (value.is_array() && !value.empty() && value[0].is_string())
        names.push_back(value[0].get<std::string>());
    else if (value.is_array())
        for (const auto& item : value)
            if (item.is_array() && !item.empty() && item[0].is_string())
                names.push_back(item[0].get<std::string>());
    return names;
}

}  // namespace

// The weights of a Keras .h5: the layer's tensors as the reader grouped them, found by the base
// of their names ("model_weights/dense/dense/kernel:0" and Keras 3's ".../kernel" alike).
Graph keras_graph(const Model& model) {
    KerasWeights weights;
    weights.find = [&model](const std::string& layer,
                            const std::vector<std::string>& names) -> std::optional<std::string> {
        const Layer* found = nullptr;
        for (const auto& l : model.layers())
            if (l.name == layer)
                found = &l;
        if (!found)
            return std::nullopt;
        std::vector<std::string> tensors{found->weight};
        if (found->bias)
            tensors.push_back(*found->bias);
        tensors.insert(tensors.end(), found->others.begin(), found->others.end());
        for (const auto& name : names)
            for (const auto& t : tensors) {
                auto base = t.substr(t.rfind('/') + 1);
                base = base.substr(0, base.find(':'));
                if (base == name)
                    return t;
            }
        return std::nullopt;
    };
    weights.read = [&model](const std::string& tensor, const std::vector<std::int64_t>& shape,
                            const std::string& layer) {
        const auto& info = model.file().tensor(tensor);
        if (info.shape != shape)
            throw Error(model.file().path(), tensor,
                        "shape " + quantlens::shape_text(info.shape) + " where layer \"" + layer +
                            "\" needs " + quantlens::shape_text(shape));
        const auto values = model.file().read_f32(info);
        return std::vector<float>(values.values().begin(), values.values().end());
    };
    return keras_graph(model.file().config(), weights, model.file().path());
}

namespace {

Graph build(const nlohmann::json& root, const KerasWeights& weights, const std::string& path) {
    if (!root.is_object() || !root.contains("config") || !root["config"].is_object() ||
        !root["config"].contains("layers") || !root["config"]["layers"].is_array())
        throw Error(path, "model_config",
                    "the engine builds Keras models from their model_config; this file has none");
    const auto& config = root["config"];
    const auto kind = root.value("class_name", std::string());
    const bool sequential = kind == "Sequential";
    if (!sequential && kind != "Functional" && kind != "Model")
        throw Error(path, "model_config class_name",
                    "\"" + kind + "\" is not supported (Sequential, Functional, Model)");
    Builder builder{weights, path, {}, {}};
    auto& graph = builder.graph;
    // The input's shape: an InputLayer, the first layer's batch_input_shape, or Sequential's
    // build_input_shape.
    if (const json* shape = config.contains("build_input_shape") ? &config["build_input_shape"] : nullptr)
        graph.input = shape_from(*shape, path, "build_input_shape");
    for (const auto& entry : config["layers"]) {
        if (!graph.input.dims.empty())
            break;
        if (entry.is_object() && entry.contains("config") && entry["config"].is_object())
            if (const json* shape = input_shape_of(entry["config"]))
                graph.input = shape_from(*shape, path, entry["config"].value("name", std::string()));
        if (sequential)
            break;
    }
    if (graph.input.dims.empty())
        throw Error(path, "model_config",
                    "no input shape (batch_input_shape / batch_shape / build_input_shape)");
    int last = -1;
    for (const auto& entry : config["layers"]) {
        if (!entry.is_object() || !entry.contains("class_name") || !entry["class_name"].is_string() ||
            !entry.contains("config") || !entry["config"].is_object())
            throw Error(path, "model_config layers", "each layer needs \"class_name\" and \"config\"");
        const auto& layer_config = entry["config"];
        const auto layer_kind = entry["class_name"].get<std::string>();
        const auto name = layer_config.value("name", entry.value("name", std::string()));
        std::vector<int> inputs;
        if (sequential) {
            inputs = {last};
        } else if (layer_kind != "InputLayer") {
            const auto& inbound = entry.value("inbound_nodes", json::array());
            if (!inbound.is_array() || inbound.empty())
                builder.fail(name, "has no inbound_nodes");
            if (inbound.size() > 1)
                builder.fail(name, "is called more than once (shared layers are not supported)");
            std::vector<std::string> names;
            collect_history(inbound[0], names);
            for (const auto& from : names) {
                const auto found = builder.output_of.find(from);
                if (found == builder.output_of.end())
                    builder.fail(name, "reads layer \"" + from + "\", which comes later or does not exist");
                inputs.push_back(found->second);
            }
        }
        if (layer_kind == "InputLayer" && !sequential) {
            if (builder.output_of.count("__input__"))
                builder.fail(name, "a second input: networks with several inputs are not supported");
            builder.output_of["__input__"] = -1;
        }
        last = builder.add_layer(layer_kind, layer_config, name, inputs);
        builder.output_of[name] = last;
    }
    if (!sequential) {
        const auto outputs = single_names(config.value("output_layers", json::array()));
        if (outputs.size() != 1)
            throw Error(path, "model_config output_layers",
                        "the engine runs networks with exactly one output");
        const auto found = builder.output_of.find(outputs[0]);
        if (found == builder.output_of.end())
            throw Error(path, "model_config output_layers",
                        "names layer \"" + outputs[0] + "\", which does not exist");
        last = found->second;
    }
    if (last < 0)
        throw Error(path, "model_config", "the network has no layer that computes anything");
    graph.output = last;
    // A softmax ending the network is left to the cross-entropy (which takes logits); anywhere else it is
    // refused.
    const auto& out = graph.nodes[static_cast<std::size_t>(last)];
    if (out.kind == OpKind::Activation && out.activation == ActivationKind::Softmax) {
        graph.softmax_folded = true;
        graph.output = out.inputs.front();
        if (graph.output < 0)
            throw Error(path, "model_config", "the network is a softmax of its input");
    }
    for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
        const auto& node = graph.nodes[i];
        if (static_cast<int>(i) != last && node.kind == OpKind::Activation &&
            node.activation == ActivationKind::Softmax)
            builder.fail(node.layer, "softmax is supported on the network's output only");
    }
    if (graph.nodes[static_cast<std::size_t>(graph.output)].out.dims.size() != 1)
        throw Error(path, "model_config",
                    "the output must be one vector of class scores per sample, it is " +
                        shape_text(graph.nodes[static_cast<std::size_t>(graph.output)].out));
    graph.parameter_count = graph.parameters.size();
    return graph;
}

}  // namespace

Graph keras_graph(const nlohmann::json& root, const KerasWeights& weights, const std::string& path) {
    try {
        return build(root, weights, path);
    } catch (const nlohmann::json::exception& error) {  // a field of the wrong JSON type
        throw Error(path, "model_config", std::string("malformed: ") + error.what());
    }
}

}  // namespace quantlens::nn
