#pragma once
// The engine's Graph of a Keras model, built from the file's model_config (Sequential and
// Functional, in Keras 2's and Keras 3's config dialects) and its weights. Layers the engine
// does not run are refused by name with the list of those it does; weight-only analysis of
// such files is unaffected (it never builds a graph).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.hpp"
#include "nn/graph.hpp"

namespace quantlens::nn {

Graph keras_graph(const Model& model);

// Where the builder finds weights: the file tensor of a layer's weight by its Keras names
// ("kernel", "depthwise_kernel", …), and that tensor's values once its shape is checked
// against what the layer needs (Error naming the tensor otherwise).
struct KerasWeights {
    std::function<std::optional<std::string>(const std::string& layer, const std::vector<std::string>& names)>
        find;
    std::function<std::vector<float>(const std::string& tensor, const std::vector<std::int64_t>& shape,
                                     const std::string& layer)>
        read;
};
// The same from a parsed model_config (what the fuzz target drives; `path` names errors).
Graph keras_graph(const nlohmann::json& model_config, const KerasWeights& weights, const std::string& path);

// Per-sample inputs larger than this many values are refused (a config is untrusted input).
inline constexpr std::int64_t kMaxInputValues = std::int64_t(1) << 28;

// What keras_graph runs, for error messages and the docs.
extern const char* const keras_supported_layers;

}  // namespace quantlens::nn
