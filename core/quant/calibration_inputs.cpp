#include "quant/calibration_inputs.hpp"

#include "io/open_model.hpp"
#include "util/error.hpp"

namespace quantlens {

LoadedInputs load_calibration_inputs(const std::string& path, const std::string& tensor_name) {
    auto file = open_model_file(path);
    const TensorInfo* chosen = nullptr;
    if (!tensor_name.empty())
        chosen = &file->tensor(tensor_name);
    else
        for (const auto& info : file->tensors())
            if (info.shape.size() == 2 && !chosen)
                chosen = &info;
    if (!chosen)
        throw Error(path, "", "holds no 2-D tensor of layer inputs (samples × features)");
    if (chosen->shape.size() != 2)
        throw Error(
            path, chosen->name,
            "layer inputs must be 2-D (samples × features), found shape " + shape_text(chosen->shape));
    LoadedInputs loaded;
    auto values = file->read_f32(*chosen);
    loaded.values.assign(values.values().begin(), values.values().end());
    loaded.inputs = {loaded.values, chosen->shape[0], chosen->shape[1]};
    return loaded;
}

}  // namespace quantlens
