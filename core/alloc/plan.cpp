#include "alloc/plan.hpp"

#include <algorithm>
#include <regex>

#include "io/json_limits.hpp"
#include "model/model_identity.hpp"
#include "quant/comparison.hpp"
#include "util/atomic_file.hpp"
#include "util/mapped_file.hpp"

namespace quantlens {

namespace {

QuantSpec spec_at(const nlohmann::ordered_json& value, const std::string& file, const std::string& where) {
    if (!value.is_string())
        throw Error(file, where, "expected a spec string such as \"int4:g128:asym\"");
    try {
        return QuantSpec::parse(value.get<std::string>());
    } catch (const Error& error) {
        throw Error(file, where,
                    error.where().empty() ? error.reason() : error.where() + ": " + error.reason());
    }
}

std::regex compile(const std::string& pattern, const std::string& file, const std::string& where) {
    // libstdc++'s regex compiles and matches recursively: bound the size and the nesting so a
    // hostile plan cannot exhaust the stack.
    if (pattern.size() > 1000)
        throw Error(file, where, "pattern longer than 1000 characters");
    int depth = 0, deepest = 0;
    for (char c : pattern) {
        depth += c == '(' ? 1 : c == ')' ? -1 : 0;
        deepest = std::max(deepest, depth);
    }
    if (deepest > 16)
        throw Error(file, where, "pattern nests groups deeper than 16 levels");
    try {
        return std::regex(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& error) {
        throw Error(file, where, std::string("not a valid regular expression: ") + error.what());
    }
}

}  // namespace

nlohmann::ordered_json to_json(const QuantPlan& plan) {
    nlohmann::ordered_json out;
    out["schema"] = kPlanSchema;
    out["model"] = {{"path", plan.model_path}, {"identity", plan.model_identity}};
    out["default_spec"] = plan.default_spec ? nlohmann::ordered_json(plan.default_spec->to_string())
                                            : nlohmann::ordered_json(nullptr);
    out["layers"] = nlohmann::ordered_json::object();
    for (const auto& [name, spec] : plan.layers)
        out["layers"][name] = spec.to_string();
    out["patterns"] = nlohmann::ordered_json::array();
    for (const auto& [pattern, spec] : plan.patterns)
        out["patterns"].push_back({{"match", pattern}, {"spec", spec.to_string()}});
    out["budget"] =
        plan.budget ? nlohmann::ordered_json(plan.budget->to_string()) : nlohmann::ordered_json(nullptr);
    out["metric"] =
        plan.metric.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(plan.metric);
    if (plan.summary)
        out["summary"] = {{"parameters", plan.summary->parameters},
                          {"size_bytes", plan.summary->size_bytes},
                          {"bits_per_weight", plan.summary->bits_per_weight},
                          {"predicted_damage", plan.summary->predicted_damage}};
    else
        out["summary"] = nullptr;
    return out;
}

QuantPlan parse_plan(std::string_view text, const std::string& file) {
    const auto json = parse_untrusted_ordered_json(text, file, "plan");
    if (!json.is_object())
        throw Error(file, "plan", "expected a JSON object");
    if (!json.contains("schema") || json["schema"] != kPlanSchema)
        throw Error(file, "schema", std::string("expected \"") + kPlanSchema + "\" (a QuantLens plan file)");
    QuantPlan plan;
    try {
        const auto& model = json.at("model");
        plan.model_path = model.at("path").get<std::string>();
        plan.model_identity = model.at("identity").get<std::string>();
    } catch (const nlohmann::json::exception&) {
        throw Error(file, "model", "expected {\"path\": string, \"identity\": string}");
    }
    if (json.contains("default_spec") && !json["default_spec"].is_null())
        plan.default_spec = spec_at(json["default_spec"], file, "default_spec");
    if (json.contains("layers")) {
        if (!json["layers"].is_object())
            throw Error(file, "layers", "expected an object of layer name → spec");
        for (const auto& [name, value] : json["layers"].items())
            plan.layers.emplace_back(name, spec_at(value, file, "layers.\"" + name + "\""));
    }
    if (json.contains("patterns")) {
        if (!json["patterns"].is_array())
            throw Error(file, "patterns", "expected an array of {\"match\": regex, \"spec\": spec}");
        for (std::size_t i = 0; i < json["patterns"].size(); ++i) {
            const auto& entry = json["patterns"][i];
            const std::string where = "patterns[" + std::to_string(i) + "]";
            if (!entry.is_object() || !entry.contains("match") || !entry["match"].is_string())
                throw Error(file, where, "expected {\"match\": regex, \"spec\": spec}");
            compile(entry["match"].get<std::string>(), file, where + ".match");
            plan.patterns.emplace_back(
                entry["match"].get<std::string>(),
                spec_at(entry.contains("spec") ? entry["spec"] : nlohmann::ordered_json(), file,
                        where + ".spec"));
        }
    }
    if (json.contains("budget") && !json["budget"].is_null()) {
        if (!json["budget"].is_string())
            throw Error(file, "budget", "expected a budget such as \"4.5bpw\" or \"2.1GB\"");
        try {
            plan.budget = Budget::parse(json["budget"].get<std::string>());
        } catch (const Error& error) {
            throw Error(file, "budget", error.reason());
        }
    }
    if (json.contains("metric") && json["metric"].is_string())
        plan.metric = json["metric"].get<std::string>();
    if (json.contains("summary") && json["summary"].is_object()) {
        const auto& s = json["summary"];
        QuantPlan::Summary summary;
        try {
            // Counts must be integers: a float such as 7.5e64 would not fit (and converting it is UB).
            if (!s.at("parameters").is_number_unsigned() || !s.at("size_bytes").is_number_unsigned())
                throw Error(file, "summary", "parameters and size_bytes must be non-negative integers");
            summary.parameters = s.at("parameters").get<std::uint64_t>();
            summary.size_bytes = s.at("size_bytes").get<std::uint64_t>();
            summary.bits_per_weight = s.at("bits_per_weight").get<double>();
            summary.predicted_damage = s.at("predicted_damage").get<double>();
        } catch (const nlohmann::json::exception&) {
            throw Error(file, "summary",
                        "expected parameters, size_bytes, bits_per_weight and predicted_damage numbers");
        }
        plan.summary = summary;
    }
    return plan;
}

QuantPlan load_plan(const std::string& path) {
    return parse_plan(read_small_file(path, 64 << 20), path);
}

void save_plan(const QuantPlan& plan, const std::string& path) {
    const auto text = to_json(plan).dump(2) + "\n";
    AtomicFile out(path);
    out.write(text.data(), text.size());
    out.commit();
}

std::vector<LayerAssignment> resolve_plan(const QuantPlan& plan, const Model& model,
                                          const std::string& plan_file) {
    const auto identity = hex64(model_identity(model.file().path()).content);
    if (identity != plan.model_identity)
        throw Error(plan_file, "model.identity",
                    "the plan was made for " + plan.model_path + " (" + plan.model_identity + "), not for " +
                        model.file().path() + " (" + identity + ")");
    for (const auto& [name, spec] : plan.layers) {
        const Layer* found = nullptr;
        for (const auto& layer : model.layers())
            if (layer.name == name)
                found = &layer;
        if (!found)
            throw Error(plan_file, "layers.\"" + name + "\"",
                        "no layer of that name in " + model.file().path());
        if (!is_quantizable(found->kind))
            throw Error(plan_file, "layers.\"" + name + "\"",
                        "a " + std::string(layer_kind_name(found->kind)) +
                            " layer; plans quantize linear, conv and embedding weights");
    }
    std::vector<std::regex> patterns;
    for (std::size_t i = 0; i < plan.patterns.size(); ++i)
        patterns.push_back(
            compile(plan.patterns[i].first, plan_file, "patterns[" + std::to_string(i) + "].match"));
    std::vector<LayerAssignment> out;
    for (const auto* layer : quantizable_layers(model)) {
        std::optional<QuantSpec> spec;
        for (const auto& [name, exact] : plan.layers)
            if (name == layer->name)
                spec = exact;
        for (std::size_t i = 0; !spec && i < patterns.size(); ++i)
            if (std::regex_match(layer->name, patterns[i]))
                spec = plan.patterns[i].second;
        if (!spec)
            spec = plan.default_spec;
        if (spec)
            out.push_back({layer, *spec});
    }
    return out;
}

}  // namespace quantlens
