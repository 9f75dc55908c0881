#pragma once
// A llama.cpp importance matrix from QuantLens's own engine (io/imatrix): per weight matrix the
// sum over calibration rows of each input column's squared activation, Σx², and the number of
// rows (tokens for a language model), as llama-imatrix gathers them, so a user without
// llama.cpp can make one for llama-quantize or QuantLens's own --imatrix. Entries are named as
// llama.cpp names the tensors (model/llama_names) where the model is a llama-family checkpoint,
// by the weight tensor's own name otherwise.
#include "io/imatrix.hpp"
#include "model/model.hpp"
#include "sensitivity/labelled_data.hpp"
#include "util/progress.hpp"

namespace quantlens {

ImportanceMatrix capture_importance(const Model& model, const LabelledData& data,
                                    const Progress& progress = {}, const CancelToken* cancel = nullptr);

}  // namespace quantlens
