#include "model/inspection.hpp"

#include <cstdio>

namespace quantlens {

Inspection inspect_model(const Model& model, bool with_stats, const Progress& progress,
                         const CancelToken* cancel) {
    const auto& file = model.file();
    Inspection result;
    result.path = file.path();
    result.format = std::string(file.format());
    result.architecture = model.architecture();
    result.metadata = file.metadata();
    result.left_out = file.left_out();
    result.left_out_parameters = left_out_parameters(result.left_out);
    std::uint64_t total_bytes = 0, done_bytes = 0;
    for (const auto& tensor : file.tensors())
        total_bytes += tensor.byte_size;
    for (const auto& layer : model.layers()) {
        LayerRow row{layer.name, layer.op, layer.kind, layer.orientation, {}, 0, 0, {}};
        std::vector<std::pair<std::string, std::string>> members{{layer.weight, "weight"}};
        if (layer.bias)
            members.emplace_back(*layer.bias, "bias");
        for (const auto& other : layer.others)
            members.emplace_back(other, "other");
        for (const auto& [name, role] : members) {
            if (cancel)
                cancel->throw_if_cancelled();
            const auto& info = file.tensor(name);
            TensorRow tensor{name,
                             role,
                             info.dtype,
                             stored_type_name(info),
                             info.shape,
                             info.elements(),
                             info.stored_size(),
                             std::nullopt,
                             {},
                             info.quantization};
            if (with_stats) {
                if (progress)
                    progress(done_bytes, total_bytes, name);
                try {
                    auto values = file.read_f32(info);
                    tensor.summary = summarize(values.values());
                } catch (const Error& error) {
                    tensor.error = error.reason();
                }
                done_bytes += info.byte_size;
            }
            row.parameters += tensor.parameters;
            row.bytes += tensor.bytes;
            if (role == "weight")
                row.shape = normalised_shape(info.shape, layer.orientation);
            row.tensors.push_back(std::move(tensor));
        }
        result.tensors += row.tensors.size();
        result.parameters += row.parameters;
        result.bytes += row.bytes;
        result.layers.push_back(std::move(row));
    }
    if (progress && with_stats)
        progress(total_bytes, total_bytes, "");
    return result;
}

nlohmann::ordered_json to_json(const Inspection& inspection) {
    nlohmann::ordered_json out;
    out["schema"] = kInspectSchema;
    out["file"] = inspection.path;
    out["format"] = inspection.format;
    out["architecture"] = inspection.architecture;
    out["summary"] = {{"layers", inspection.layers.size()},
                      {"tensors", inspection.tensors},
                      {"parameters", inspection.parameters},
                      {"bytes", inspection.bytes},
                      {"left_out_tensors", inspection.left_out.size()},
                      {"left_out_parameters", inspection.left_out_parameters}};
    out["left_out"] = nlohmann::ordered_json::array();
    for (const auto& missing : inspection.left_out)
        out["left_out"].push_back(
            {{"name", missing.name}, {"parameters", missing.parameters}, {"reason", missing.reason}});
    out["layers"] = nlohmann::ordered_json::array();
    for (const auto& layer : inspection.layers) {
        nlohmann::ordered_json row;
        row["name"] = layer.name;
        row["kind"] = layer_kind_name(layer.kind);
        row["op"] = layer.op;
        row["orientation"] = orientation_name(layer.orientation);
        row["shape"] = layer.shape;
        row["parameters"] = layer.parameters;
        row["bytes"] = layer.bytes;
        row["tensors"] = nlohmann::ordered_json::array();
        for (const auto& tensor : layer.tensors) {
            nlohmann::ordered_json t;
            t["name"] = tensor.name;
            t["role"] = tensor.role;
            t["dtype"] = tensor.stored_type;
            t["shape"] = tensor.shape;
            t["parameters"] = tensor.parameters;
            t["bytes"] = tensor.bytes;
            if (tensor.quantization)
                t["quantization"] = to_json(*tensor.quantization);
            if (tensor.summary) {
                const auto& s = *tensor.summary;
                t["stats"] = {{"min", s.min},
                              {"max", s.max},
                              {"mean", s.mean},
                              {"std", s.std},
                              {"non_finite", s.non_finite}};
            } else {
                t["stats"] = nullptr;
                if (!tensor.error.empty())
                    t["stats_error"] = tensor.error;
            }
            row["tensors"].push_back(std::move(t));
        }
        out["layers"].push_back(std::move(row));
    }
    out["metadata"] = inspection.metadata;
    return out;
}

namespace {
std::string human_bytes(std::uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1024 && unit < 4) {
        value /= 1024;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, unit ? "%.1f %s" : "%.0f %s", value, units[unit]);
    return text;
}
std::string number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.4g", value);
    return text;
}
}  // namespace

std::string to_table(const Inspection& inspection) {
    std::string out;
    char line[1024];
    int dtype_width = 8;  // wider for a stored quantization's "uint4 blocks of 128"
    for (const auto& layer : inspection.layers)
        for (const auto& tensor : layer.tensors)
            dtype_width = std::max(dtype_width, static_cast<int>(tensor.stored_type.size()));
    std::snprintf(line, sizeof line, "%-44s %-9s %-*s %-18s %12s %10s %10s %10s %10s %10s\n", "NAME", "KIND",
                  dtype_width, "DTYPE", "SHAPE", "PARAMS", "BYTES", "MIN", "MAX", "MEAN", "STD");
    out += line;
    for (const auto& layer : inspection.layers) {
        std::snprintf(line, sizeof line, "%-44s %-9s %-*s %-18s %12llu %10s\n", layer.name.c_str(),
                      std::string(layer_kind_name(layer.kind)).c_str(), dtype_width, "",
                      shape_text(layer.shape).c_str(), static_cast<unsigned long long>(layer.parameters),
                      human_bytes(layer.bytes).c_str());
        out += line;
        for (const auto& tensor : layer.tensors) {
            std::string min, max, mean, std_text;
            if (tensor.summary) {
                min = number(tensor.summary->min);
                max = number(tensor.summary->max);
                mean = number(tensor.summary->mean);
                std_text = number(tensor.summary->std);
            }
            std::snprintf(
                line, sizeof line, "  %-42s %-9s %-*s %-18s %12llu %10s %10s %10s %10s %10s\n",
                tensor.name.c_str(), tensor.role.c_str(), dtype_width, tensor.stored_type.c_str(),
                shape_text(tensor.shape).c_str(), static_cast<unsigned long long>(tensor.parameters),
                human_bytes(tensor.bytes).c_str(), min.c_str(), max.c_str(), mean.c_str(), std_text.c_str());
            out += line;
            if (tensor.quantization)
                out += "    stored as " + describe(*tensor.quantization) + "\n";
            if (!tensor.summary && !tensor.error.empty())
                out += "    (no statistics: " + tensor.error + ")\n";
        }
    }
    std::snprintf(
        line, sizeof line, "%zu layers, %llu tensors, %llu parameters, %s, format %s%s\n",
        inspection.layers.size(), static_cast<unsigned long long>(inspection.tensors),
        static_cast<unsigned long long>(inspection.parameters), human_bytes(inspection.bytes).c_str(),
        inspection.format.c_str(),
        inspection.architecture.empty() ? "" : (", architecture " + inspection.architecture).c_str());
    out += line;
    if (const auto missing = left_out_summary(inspection.left_out); !missing.empty())
        out += missing + "\n";
    return out;
}

namespace {
nlohmann::ordered_json part_json(const std::optional<TensorInfo>& part) {
    if (!part)
        return nullptr;
    return {{"name", part->name}, {"dtype", dtype_name(part->dtype)}, {"shape", part->shape}};
}
std::string part_text(const char* role, const std::optional<TensorInfo>& part) {
    if (!part)
        return "";
    return std::string(", ") + role + " " + part->name + " " + std::string(dtype_name(part->dtype)) + " " +
           shape_text(part->shape);
}
}  // namespace

nlohmann::ordered_json to_json(const StoredQuantization& q) {
    nlohmann::ordered_json out;
    out["form"] = q.form;
    out["type"] = q.type_name();
    out["bits"] = q.bits;
    out["signed"] = q.is_signed;
    out["float8"] = q.is_float8;
    out["granularity"] = q.granularity();
    out["axis"] = q.axis < 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(q.axis);
    out["block_size"] = q.block_size;
    out["codes"] = part_json(q.codes);
    out["scales"] = part_json(q.scales);
    out["zero_points"] = part_json(q.zero_points);
    out["group_index"] = part_json(q.group_index);
    out["scale_factor"] = part_json(q.scale_factor);
    out["stored_bytes"] = q.stored_bytes();
    return out;
}

std::string describe(const StoredQuantization& q) {
    const std::string type = q.is_float8
                                 ? "float8 " + std::string(dtype_name(q.codes.dtype)).substr(3)
                                 : std::to_string(q.bits) + "-bit " + (q.is_signed ? "signed" : "unsigned");
    return q.form + ", " + type + ", " + q.granularity() + ": codes " + q.codes.name + " " +
           std::string(dtype_name(q.codes.dtype)) + " " + shape_text(q.codes.shape) +
           part_text("scales", q.scales) + part_text("zero points", q.zero_points) +
           part_text("g_idx", q.group_index) + part_text("input scale", q.scale_factor);
}

std::uint64_t left_out_parameters(const std::vector<ModelFile::LeftOut>& left_out) {
    std::uint64_t parameters = 0;
    for (const auto& missing : left_out)
        parameters += missing.parameters;
    return parameters;
}

std::string left_out_summary(const std::vector<ModelFile::LeftOut>& left_out) {
    if (left_out.empty())
        return {};
    std::string out = std::to_string(left_out.size()) + " tensor" + (left_out.size() == 1 ? "" : "s") + " (" +
                      std::to_string(left_out_parameters(left_out)) + " parameters) left out, unreadable: ";
    constexpr std::size_t kListed = 3;
    for (std::size_t i = 0; i < left_out.size() && i < kListed; ++i)
        out += (i ? "; " : "") + left_out[i].name + " (" + left_out[i].reason + ")";
    if (left_out.size() > kListed)
        out += "; and " + std::to_string(left_out.size() - kListed) + " more (inspect --json lists all)";
    return out;
}

}  // namespace quantlens
