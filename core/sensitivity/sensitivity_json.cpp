// The sensitivity report as JSON (the CLI's --json and the on-disk cache, read back by
// sensitivity_from_json) and as a terminal table.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "sensitivity/sensitivity_report.hpp"
#include "stats/rank_correlation.hpp"
#include "util/error.hpp"
#include "util/json_number.hpp"

namespace quantlens {

namespace {

using ordered = nlohmann::ordered_json;

ordered number(double value) {
    return json_number<ordered>(value);
}
ordered numbers(const std::vector<double>& values) {
    ordered out = ordered::array();
    for (double v : values)
        out.push_back(number(v));
    return out;
}

const nlohmann::json& field(const nlohmann::json& json, const char* name, const std::string& source) {
    if (!json.is_object() || !json.contains(name))
        throw Error(source, name, "missing");
    return json[name];
}
double read_number(const nlohmann::json& json, const char* name, const std::string& source) {
    const auto number = number_from_json(field(json, name, source));
    if (!number)
        throw Error(source, name, "must be a number (or \"nan\", \"inf\", \"-inf\")");
    return *number;
}
std::vector<double> read_numbers(const nlohmann::json& json, const char* name, const std::string& source) {
    const auto& value = field(json, name, source);
    if (!value.is_array())
        throw Error(source, name, "must be an array of numbers");
    std::vector<double> out;
    for (const auto& v : value) {
        const auto number = number_from_json(v);
        if (!number)
            throw Error(source, name, "must be an array of numbers");
        out.push_back(*number);
    }
    return out;
}
// A count: a whole number from 0 to 2^53 (a report from elsewhere is not trusted to hold one).
std::size_t read_count(const nlohmann::json& json, const char* name, const std::string& source) {
    const double value = read_number(json, name, source);
    if (!(value >= 0 && value <= 9007199254740992.0) || value != std::floor(value))
        throw Error(source, name, "must be a whole number from 0 to 2^53");
    return static_cast<std::size_t>(value);
}
std::string read_string(const nlohmann::json& json, const char* name, const std::string& source) {
    const auto& value = field(json, name, source);
    if (!value.is_string())
        throw Error(source, name, "must be a string");
    return value.get<std::string>();
}

// The last 20 characters of a long name: "…h.1.mlp.c_proj" tells layers apart, its start does not.
std::string short_name(const std::string& name) {
    return name.size() <= 20 ? name : "~" + name.substr(name.size() - 19);
}

}  // namespace

nlohmann::ordered_json to_json(const SensitivityReport& report) {
    ordered out = {{"schema", kSensitivitySchema},      {"model", report.model},
                   {"calibration", report.calibration}, {"samples", report.samples},
                   {"loss", number(report.loss)},       {"accuracy", number(report.accuracy)},
                   {"specs", ordered::array()}};
    for (const auto& spec : report.specs)
        out["specs"].push_back(spec.to_string());
    if (!report.model_identity.empty())
        out["model_identity"] = report.model_identity;
    if (report.lrp_conservation_error)
        out["lrp_conservation_error"] = number(*report.lrp_conservation_error);
    out["layers"] = ordered::array();
    for (const auto& layer : report.layers) {
        ordered row = {{"layer", layer.layer},
                       {"op", layer.op},
                       {"weights", layer.weights},
                       {"excess_kurtosis", number(layer.excess_kurtosis)},
                       {"max_to_mean", number(layer.max_to_mean)}};
        if (layer.qsur_per_dimension)
            row["qsur_per_dimension"] = number(*layer.qsur_per_dimension);
        if (const auto& h = layer.hessian) {
            row["hessian"] = {{"parameters", h->parameters},
                              {"trace", number(h->hutchinson.trace)},
                              {"standard_error", number(h->hutchinson.standard_error)},
                              {"samples", h->hutchinson.samples},
                              {"omega", numbers(h->omega)}};
            if (h->exact)
                row["hessian"]["exact"] = number(*h->exact);
        }
        if (const auto& l = layer.lrp)
            row["lrp"] = {{"contribution", number(l->contribution)},
                          {"conservation_error", number(l->conservation_error)}};
        if (const auto& d = layer.damage)
            row["damage"] = {{"proxy_trace", number(d->proxy_trace)},
                             {"activation_kurtosis", number(d->activation_kurtosis)},
                             {"activation_qsur", number(d->activation_qsur)},
                             {"activation_mmr", number(d->activation_mmr)},
                             {"proxy_damage", numbers(d->proxy_damage)},
                             {"weight_mse", numbers(d->weight_mse)},
                             {"delta_loss", numbers(d->delta_loss)},
                             {"kl", numbers(d->kl)},
                             {"fisher", numbers(d->fisher)},
                             {"importance", numbers(d->importance)}};
        out["layers"].push_back(std::move(row));
    }
    out["notes"] = report.notes;
    out["agreement"] = ordered::array();
    for (const auto& a : report.agreement)
        out["agreement"].push_back({{"spec", a.spec},
                                    {"predictor", a.predictor},
                                    {"against", "delta_loss"},
                                    {"spearman", number(a.rho)},
                                    {"layers", a.layers},
                                    {"p_value", number(spearman_p_value(a.rho, a.layers))}});
    return out;
}

SensitivityReport sensitivity_from_json(const nlohmann::json& json, const std::string& source) {
    if (read_string(json, "schema", source) != kSensitivitySchema)
        throw Error(source, "schema", std::string("expected ") + kSensitivitySchema);
    SensitivityReport report;
    report.model = read_string(json, "model", source);
    report.calibration = read_string(json, "calibration", source);
    if (json.contains("model_identity"))
        report.model_identity = read_string(json, "model_identity", source);
    report.samples = read_count(json, "samples", source);
    report.loss = read_number(json, "loss", source);
    report.accuracy = read_number(json, "accuracy", source);
    for (const auto& spec : field(json, "specs", source)) {
        if (!spec.is_string())
            throw Error(source, "specs", "must be an array of spec texts");
        report.specs.push_back(QuantSpec::parse(spec.get<std::string>()));
    }
    if (json.contains("lrp_conservation_error"))
        report.lrp_conservation_error = read_number(json, "lrp_conservation_error", source);
    for (const auto& row : field(json, "layers", source)) {
        LayerSensitivity layer;
        layer.layer = read_string(row, "layer", source);
        layer.op = read_string(row, "op", source);
        layer.weights = read_count(row, "weights", source);
        layer.excess_kurtosis = read_number(row, "excess_kurtosis", source);
        layer.max_to_mean = read_number(row, "max_to_mean", source);
        if (row.contains("qsur_per_dimension"))
            layer.qsur_per_dimension = read_number(row, "qsur_per_dimension", source);
        if (row.contains("hessian")) {
            const auto& h = row["hessian"];
            LayerHessian hessian;
            hessian.layer = layer.layer;
            hessian.parameters = read_count(h, "parameters", source);
            hessian.hutchinson.trace = read_number(h, "trace", source);
            hessian.hutchinson.standard_error = read_number(h, "standard_error", source);
            hessian.hutchinson.samples =
                static_cast<int>(std::min<std::size_t>(read_count(h, "samples", source), 1u << 30));
            hessian.omega = read_numbers(h, "omega", source);
            if (h.contains("exact"))
                hessian.exact = read_number(h, "exact", source);
            layer.hessian = std::move(hessian);
        }
        if (row.contains("lrp"))
            layer.lrp = LayerRelevance{layer.layer, read_number(row["lrp"], "contribution", source),
                                       read_number(row["lrp"], "conservation_error", source)};
        if (row.contains("damage")) {
            const auto& d = row["damage"];
            LayerDamage damage;
            damage.layer = layer.layer;
            damage.op = layer.op;
            damage.weights = layer.weights;
            damage.proxy_trace = read_number(d, "proxy_trace", source);
            damage.activation_kurtosis = read_number(d, "activation_kurtosis", source);
            damage.activation_qsur = read_number(d, "activation_qsur", source);
            damage.activation_mmr = read_number(d, "activation_mmr", source);
            damage.proxy_damage = read_numbers(d, "proxy_damage", source);
            damage.weight_mse = read_numbers(d, "weight_mse", source);
            damage.delta_loss = read_numbers(d, "delta_loss", source);
            damage.kl = read_numbers(d, "kl", source);
            damage.fisher = read_numbers(d, "fisher", source);
            damage.importance = read_numbers(d, "importance", source);
            layer.damage = std::move(damage);
        }
        report.layers.push_back(std::move(layer));
    }
    for (const auto& note : field(json, "notes", source))
        if (note.is_string())
            report.notes.push_back(note.get<std::string>());
    for (const auto& a : field(json, "agreement", source))
        report.agreement.push_back({read_string(a, "spec", source), read_string(a, "predictor", source),
                                    read_number(a, "spearman", source), read_count(a, "layers", source)});
    return report;
}

std::string to_table(const SensitivityReport& report) {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "%zu samples, loss %.6g, accuracy %.4f%s\n", report.samples, report.loss,
                  report.accuracy, report.from_cache ? " (cached)" : "");
    out += line;
    if (report.lrp_conservation_error) {
        std::snprintf(line, sizeof line, "LRP conservation error over the network: %.3g\n",
                      *report.lrp_conservation_error);
        out += line;
    }
    for (const auto& note : report.notes)
        out += "note: " + note + "\n";
    std::snprintf(line, sizeof line, "%-20s %-16s %9s %12s %10s %10s %11s %11s %11s\n", "LAYER", "OP",
                  "WEIGHTS", "HESS TRACE", "LRP", "PROXY TR", "KURTOSIS", "W MAX/MEAN", "X MAX/MED");
    out += line;
    for (const auto& layer : report.layers) {
        std::snprintf(line, sizeof line, "%-20.20s %-16.16s %9zu %12.5g %10.4f %10.4g %11.4g %11.4g %11.4g\n",
                      short_name(layer.layer).c_str(), layer.op.c_str(), layer.weights,
                      layer.hessian ? layer.hessian->hutchinson.trace : NAN,
                      layer.lrp ? layer.lrp->contribution : NAN,
                      layer.damage ? layer.damage->proxy_trace : NAN, layer.excess_kurtosis,
                      layer.max_to_mean, layer.damage ? layer.damage->activation_mmr : NAN);
        out += line;
    }
    out +=
        "KURTOSIS and W MAX/MEAN are of the weights; X MAX/MED is the mean over rows of the layer inputs' "
        "max|x| / median|x|.\n";
    for (std::size_t s = 0; s < report.specs.size(); ++s) {
        out += "\n" + report.specs[s].to_string() + "\n";
        std::snprintf(line, sizeof line, "%-20s %12s %12s %12s %12s %12s\n", "LAYER", "DELTA LOSS", "KL",
                      "FISHER", "HAWQ OMEGA", "PROXY");
        out += line;
        for (const auto& layer : report.layers) {
            const auto* d = layer.damage ? &*layer.damage : nullptr;
            auto at = [&](const std::vector<double>& v) {
                return s < v.size() ? v[s] : NAN;
            };
            std::snprintf(line, sizeof line, "%-20.20s %12.5g %12.5g %12.5g %12.5g %12.5g\n",
                          short_name(layer.layer).c_str(), d ? at(d->delta_loss) : NAN, d ? at(d->kl) : NAN,
                          d ? at(d->fisher) : NAN, layer.hessian ? at(layer.hessian->omega) : NAN,
                          d ? at(d->proxy_damage) : NAN);
            out += line;
        }
        bool header = false;
        for (const auto& a : report.agreement) {
            if (a.spec != report.specs[s].to_string())
                continue;
            if (!header)
                out += "Spearman rho against the measured delta loss:";
            header = true;
            std::snprintf(line, sizeof line, " %s %.2f", a.predictor.c_str(), a.rho);
            out += line;
        }
        if (header)
            out += "\n";
        // How far the best predictor can be trusted (docs/metrics.md §4), ranked as the GUI ranks them.
        if (const auto ranked = ranked_predictors(report, report.specs[s].to_string()); !ranked.empty()) {
            const auto& best = ranked.front();
            const double p = spearman_p_value(best.rho, best.layers);
            std::snprintf(line, sizeof line, "best: %s rho %.2f over %zu layers, p = %.2g%s\n",
                          best.predictor.c_str(), best.rho, best.layers, p,
                          p >= 0.05 ? ": weak, it could arise by chance" : "");
            out += line;
        }
    }
    return out;
}

}  // namespace quantlens
