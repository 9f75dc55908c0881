#pragma once
// The engine's Graph of a Keras model, built from the file's model_config (Sequential and
// Functional, in Keras 2's and Keras 3's config dialects) and its weights. Layers the engine
// does not run are refused by name with the list of those it does; weight-only analysis of
// such files is unaffected (it never builds a graph).
#include "model/model.hpp"
#include "nn/graph.hpp"

namespace quantlens::nn {

Graph keras_graph(const Model& model);

// What keras_graph runs, for error messages and the docs.
extern const char* const keras_supported_layers;

}  // namespace quantlens::nn
