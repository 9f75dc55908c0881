#pragma once
// ONNX models through Debian's libonnx protobuf classes: initializers, tensors held in
// Constant nodes (paddle2onnx and others put all weights there), and external data.
#include <memory>
#include <string>

#include "io/model_file.hpp"

namespace quantlens {

std::unique_ptr<ModelFile> open_onnx(const std::string& path);
bool looks_like_onnx(std::string_view prefix);

}  // namespace quantlens
