#include "export/llama_quantize_types.hpp"

#include <cctype>

#include "export/gguf_export.hpp"
#include "util/error.hpp"

namespace quantlens {

// The name as a regular expression matching only itself: special characters escaped, anchored.
std::string exact_pattern(const std::string& name) {
    std::string out = "^";
    for (char c : name) {
        if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos)
            out += '\\';
        out += c;
    }
    return out + "$";
}

std::string llama_quantize_tensor_types(const Model& model, const std::vector<LayerAssignment>& assignments) {
    const std::string& path = model.file().path();
    if (model.file().format() != "gguf")
        throw Error(path, "llama-quantize tensor types",
                    "llama.cpp names tensors as in a GGUF file; convert the model with llama.cpp's "
                    "convert_hf_to_gguf.py and make the plan on the GGUF");
    ExportChecks checks;
    std::string out;
    for (const auto& [layer, spec] : assignments) {
        const std::string type = spec.to_string();
        const std::string& tensor = layer->weight;
        if (!ggml_dtype_of(spec))
            checks.fail(layer->name, type + " is not a ggml type (use " + ggml_type_names_text() + ")");
        bool plain = !tensor.empty();
        for (char c : tensor)
            plain = plain && !std::isspace(static_cast<unsigned char>(c)) &&
                    !std::isupper(static_cast<unsigned char>(c));
        if (!plain)
            checks.fail(layer->name,
                        "tensor name \"" + tensor +
                            "\" has spaces or capitals, which llama-quantize's file cannot match");
        out += exact_pattern(tensor) + "=" + type + "\n";
    }
    checks.throw_if_failed(path, "llama-quantize tensor types");
    return out;
}

}  // namespace quantlens
