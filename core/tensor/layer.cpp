#include "tensor/layer.hpp"

namespace quantlens {

std::string_view layer_kind_name(LayerKind kind) {
    switch (kind) {
        case LayerKind::Linear: return "linear";
        case LayerKind::Conv: return "conv";
        case LayerKind::Embedding: return "embedding";
        case LayerKind::Norm: return "norm";
        case LayerKind::Other: break;
    }
    return "other";
}

LayerKind layer_kind_from_name(std::string_view name) {
    for (auto kind : {LayerKind::Linear, LayerKind::Conv, LayerKind::Embedding, LayerKind::Norm})
        if (layer_kind_name(kind) == name)
            return kind;
    return LayerKind::Other;
}

std::string_view orientation_name(Orientation orientation) {
    switch (orientation) {
        case Orientation::OutFirst: return "out-first";
        case Orientation::InOut: return "in-out";
        case Orientation::KerasConv: return "keras-conv";
        case Orientation::KerasDepthwise: return "keras-depthwise";
    }
    return "out-first";
}

std::vector<std::int64_t> normalised_shape(const std::vector<std::int64_t>& stored, Orientation orientation) {
    const std::size_t rank = stored.size();
    if (orientation == Orientation::InOut && rank == 2)
        return {stored[1], stored[0]};
    if (orientation == Orientation::KerasConv && rank >= 2) {
        std::vector<std::int64_t> shape{stored[rank - 1], stored[rank - 2]};
        shape.insert(shape.end(), stored.begin(), stored.end() - 2);
        return shape;
    }
    if (orientation == Orientation::KerasDepthwise && rank >= 2) {
        std::vector<std::int64_t> shape{stored[rank - 2] * stored[rank - 1], 1};
        shape.insert(shape.end(), stored.begin(), stored.end() - 2);
        return shape;
    }
    return stored;
}

}  // namespace quantlens
