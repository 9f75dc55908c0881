#include "alloc/planning.hpp"

#include <map>

#include <cmath>
#include <regex>

#include "model/model_identity.hpp"
#include "quant/ggml_fallback.hpp"

namespace quantlens {

const std::vector<std::string>& default_candidates() {
    static const std::vector<std::string> kCandidates = {"int3:g128:asym", "int4:g128:asym", "int6:g128:asym",
                                                         "int8:channel:sym"};
    return kCandidates;
}

namespace {

double sensitivity_weight(DamageMetric metric, const LayerStatistics& s) {
    switch (metric) {
        case DamageMetric::Mse: return 1.0;
        case DamageMetric::Kurtosis: return std::max(0.0, s.excess_kurtosis + 3);
        case DamageMetric::MaxToMean: return s.max_to_mean;
        case DamageMetric::Hawq:
        case DamageMetric::Measured:
        case DamageMetric::Fisher:
        case DamageMetric::Imatrix:
        case DamageMetric::Lrp: break;  // from the sensitivity engine or the metrics, in plan_allocation
    }
    return 1.0;
}

}  // namespace

std::string_view damage_metric_name(DamageMetric metric) {
    switch (metric) {
        case DamageMetric::Mse: return "mse";
        case DamageMetric::Kurtosis: return "kurtosis";
        case DamageMetric::MaxToMean: return "max_to_mean";
        case DamageMetric::Hawq: return "hawq";
        case DamageMetric::Measured: return "measured";
        case DamageMetric::Fisher: return "fisher";
        case DamageMetric::Imatrix: return "imatrix";
        case DamageMetric::Lrp: return "lrp";
    }
    return "mse";
}

bool is_model_based(DamageMetric metric) {
    return metric == DamageMetric::Hawq || metric == DamageMetric::Measured ||
           metric == DamageMetric::Fisher || metric == DamageMetric::Lrp;
}

DamageMetric parse_damage_metric(std::string_view name) {
    for (auto metric :
         {DamageMetric::Mse, DamageMetric::Kurtosis, DamageMetric::MaxToMean, DamageMetric::Hawq,
          DamageMetric::Measured, DamageMetric::Fisher, DamageMetric::Imatrix, DamageMetric::Lrp})
        if (damage_metric_name(metric) == name)
            return metric;
    throw Error("", "metric \"" + std::string(name) + "\"",
                "expected mse, kurtosis, max_to_mean, hawq, measured, fisher, imatrix or lrp");
}

std::vector<QuantSpec> specs_to_measure(const PlanRequest& request) {
    std::vector<QuantSpec> out;
    auto add = [&](const QuantSpec& spec) {
        for (const auto& known : out)
            if (known.to_string() == spec.to_string())
                return;
        out.push_back(spec);
    };
    for (const auto& spec : request.candidates)
        add(spec);
    for (const auto& [kind, specs] : request.kind_candidates)
        for (const auto& spec : specs)
            add(spec);
    for (const auto& [pattern, spec] : request.pins)
        add(spec);
    for (const auto& spec : request.also_measure)
        add(spec);
    const auto asked = out.size();
    for (std::size_t i = 0; i < asked;
         ++i)  // what llama-quantize would write instead on rows that do not fit
        for (const auto& fallback : ggml_fallback_chain(out[i]))
            add(fallback);
    return out;
}

std::string fused_group(const std::string& layer) {
    static const std::pair<const char*, const char*> kFused[] = {{"q_proj", "qkv_proj"},
                                                                 {"k_proj", "qkv_proj"},
                                                                 {"v_proj", "qkv_proj"},
                                                                 {"gate_proj", "gate_up_proj"},
                                                                 {"up_proj", "gate_up_proj"}};
    for (const auto& [member, group] : kFused) {
        const std::string suffix = std::string(".") + member;
        if (layer.size() > suffix.size() &&
            layer.compare(layer.size() - suffix.size(), suffix.size(), suffix) == 0)
            return layer.substr(0, layer.size() - suffix.size() + 1) + group;
    }
    return layer;
}

PlanResult plan_allocation(const Model& model, const AnalysisReport& report, const PlanRequest& request) {
    const std::string& path = model.file().path();
    std::vector<std::regex> pins;
    for (std::size_t i = 0; i < request.pins.size(); ++i) {
        try {
            pins.emplace_back(request.pins[i].first, std::regex::ECMAScript);
        } catch (const std::regex_error& error) {
            throw Error("", "pin \"" + request.pins[i].first + "\"",
                        std::string("not a valid regular expression: ") + error.what());
        }
    }
    auto measured = [&](const QuantSpec& spec) {
        for (std::size_t k = 0; k < report.specs.size(); ++k)
            if (report.specs[k].to_string() == spec.to_string())
                return k;
        throw Error(path, "spec \"" + spec.to_string() + "\"",
                    "was not measured by the analysis this plan is made from");
    };
    std::vector<AllocationLayer> layers;
    std::vector<std::string> fallbacks;
    std::uint64_t parameters = 0, layer_bytes = 0;
    for (const auto& analysed : report.layers) {
        if (!analysed.error.empty())
            throw Error(path, "layer \"" + analysed.layer + "\"", "could not be analysed: " + analysed.error);
        const std::vector<QuantSpec>* list = &request.candidates;
        if (auto found = request.kind_candidates.find(analysed.kind); found != request.kind_candidates.end())
            list = &found->second;
        std::vector<QuantSpec> pinned;
        for (std::size_t i = 0; i < pins.size() && pinned.empty(); ++i)
            if (std::regex_match(analysed.layer, pins[i]))
                pinned.push_back(request.pins[i].second);
        if (!pinned.empty())
            list = &pinned;
        AllocationLayer layer{analysed.layer, {}};
        std::string reasons;
        double weight = sensitivity_weight(request.metric, analysed.statistics);
        if (request.metric == DamageMetric::Hawq) {  // HAWQ-V2: Ω = Tr(H)/n · ‖Q(W) − W‖²
            const auto trace = request.hessian_traces.find(analysed.layer);
            if (trace == request.hessian_traces.end() || trace->second.second == 0)
                throw Error(path, "layer \"" + analysed.layer + "\"",
                            "has no Hessian trace for --metric hawq (the engine computed none for it: a "
                            "layer outside the network it runs)");
            weight = trace->second.first / static_cast<double>(trace->second.second);
        }
        const double n = static_cast<double>(analysed.parameters);
        if (request.metric == DamageMetric::Lrp) {  // c · ‖Q(W) − W‖² / ‖W‖², with ‖W‖² = n·(σ² + μ²)
            const auto score = request.lrp_contributions.find(analysed.layer);
            if (score == request.lrp_contributions.end() && pinned.empty())
                throw Error(path, "layer \"" + analysed.layer + "\"",
                            "has no LRP contribution for --metric lrp (the engine computed none for it: a "
                            "layer outside the network it runs; pin it with --pin)");
            const double energy = n * (analysed.statistics.std * analysed.statistics.std +
                                       analysed.statistics.mean * analysed.statistics.mean);
            // An all-zero layer loses nothing; a pinned one has one choice, so its damage cannot
            // change the plan.
            const bool known = score != request.lrp_contributions.end();
            weight = known && energy > 0 ? score->second / energy : 0.0;
        }
        const std::int64_t row_length =
            analysed.shape.empty() || analysed.shape[0] == 0
                ? 0
                : static_cast<std::int64_t>(analysed.parameters) / analysed.shape[0];
        std::string replaced;
        for (const auto& asked : *list) {
            const QuantSpec spec = ggml_fallback(asked, row_length);  // as llama-quantize would write it
            if (!(spec == asked))
                replaced += (replaced.empty() ? "" : ", ") + asked.to_string() + " -> " + spec.to_string();
            bool known = false;
            for (const auto& candidate : layer.candidates)
                known = known || candidate.spec == spec.to_string();
            if (known)
                continue;
            if (const auto by_layer = request.refused.find(analysed.layer); by_layer != request.refused.end())
                if (const auto why = by_layer->second.find(spec.to_string()); why != by_layer->second.end()) {
                    reasons += "; " + spec.to_string() + ": the export format refuses it: " + why->second;
                    continue;
                }
            const auto& outcome = analysed.quantization.at(measured(spec));
            if (!outcome.metrics) {
                reasons += "; " + spec.to_string() + ": " + outcome.error;
                continue;
            }
            double damage = weight * outcome.metrics->mse * n;
            if (request.metric == DamageMetric::Imatrix) {
                // A pinned layer has one choice: its damage cannot change the plan.
                if (std::isnan(outcome.metrics->importance_mse) && !pinned.empty())
                    damage = 0;
                else if (std::isnan(outcome.metrics->importance_mse))
                    throw Error(
                        path, "layer \"" + analysed.layer + "\"",
                        "has no entry in the importance matrix for --metric imatrix (pin it with --pin, "
                        "or give an --imatrix made for this model)");
                else
                    damage = outcome.metrics->importance_mse * n;
            }
            if (request.metric == DamageMetric::Measured || request.metric == DamageMetric::Fisher) {
                // A spec that lowers the calibration loss is as good as lossless here: the knapsack wants
                // damage ≥ 0.
                const bool fisher = request.metric == DamageMetric::Fisher;
                const auto& table = fisher ? request.fisher_damage : request.measured_damage;
                const auto by_layer = table.find(analysed.layer);
                const auto by_spec = by_layer == table.end() ? std::map<std::string, double>::const_iterator()
                                                             : by_layer->second.find(spec.to_string());
                if (by_layer == table.end() || by_spec == by_layer->second.end())
                    throw Error(
                        path, "layer \"" + analysed.layer + "\"",
                        std::string("has no ") + (fisher ? "Fisher-Taylor estimate" : "measured delta loss") +
                            " for " + spec.to_string() +
                            " (the engine measures Dense and Conv layers; pin the others with --pin)");
                damage = std::max(by_spec->second, 0.0);
            }
            layer.candidates.push_back(
                {spec.to_string(),
                 static_cast<std::uint64_t>(std::llround(outcome.metrics->bits_per_weight * n)), damage});
        }
        if (!replaced.empty())
            fallbacks.push_back(analysed.layer + " (rows of " + std::to_string(row_length) +
                                " values): " + replaced);
        if (layer.candidates.empty())
            throw Error(path, "layer \"" + analysed.layer + "\"",
                        list->empty() ? "has no candidate spec" : "no candidate spec applies" + reasons);
        parameters += analysed.parameters;
        layer_bytes += model.file().tensor(model.layer(analysed.layer).weight).stored_size();
        layers.push_back(std::move(layer));
    }
    std::uint64_t model_bytes = 0;
    for (const auto& tensor : model.file().tensors())
        model_bytes += tensor.stored_size();
    const std::uint64_t fixed_bytes = model_bytes - layer_bytes;

    // Tied groups become one item: specs all members take, costs and damages summed.
    std::vector<std::size_t> item_of(layers.size());
    std::vector<AllocationLayer> items;
    std::map<std::string, std::size_t> item_index;
    for (std::size_t l = 0; l < layers.size(); ++l) {
        const auto key = request.tie_fused ? fused_group(layers[l].name) : layers[l].name;
        const auto [found, added] = item_index.emplace(key, items.size());
        item_of[l] = found->second;
        if (added) {
            items.push_back(layers[l]);
            items.back().name = key;
            continue;
        }
        auto& item = items[found->second];
        std::vector<Candidate> common;
        for (const auto& candidate : item.candidates)
            for (const auto& other : layers[l].candidates)
                if (other.spec == candidate.spec)
                    common.push_back({candidate.spec, candidate.cost_bits + other.cost_bits,
                                      candidate.damage + other.damage});
        if (common.empty())
            throw Error(path, "layer \"" + layers[l].name + "\"",
                        "shares no candidate spec with the layers it is fused with in \"" + key +
                            "\" (give them a common candidate, or do not tie)");
        item.candidates = std::move(common);
    }
    AllocationSolver solver(std::move(items));
    std::uint64_t budget_bits = 0;
    if (request.budget.kind == Budget::Kind::BitsPerWeight) {
        budget_bits =
            static_cast<std::uint64_t>(std::floor(request.budget.value * static_cast<double>(parameters)));
    } else {
        const double bits = request.budget.value * 8 - static_cast<double>(fixed_bytes) * 8;
        budget_bits = bits > 0 ? static_cast<std::uint64_t>(bits) : 0;
    }
    const auto chosen = solver.solve(budget_bits);
    if (!chosen) {
        const double cheapest = static_cast<double>(solver.cheapest_bits());
        char need[160];
        std::snprintf(
            need, sizeof need,
            "too small: the cheapest plan takes %.4g bpw, %.0f bytes with the %llu bytes kept as they are",
            parameters ? cheapest / static_cast<double>(parameters) : 0.0,
            std::ceil(cheapest / 8) + static_cast<double>(fixed_bytes),
            static_cast<unsigned long long>(fixed_bytes));
        throw Error("", "budget \"" + request.budget.to_string() + "\"", need);
    }
    PlanResult result{QuantPlan{}, std::move(solver), *chosen,     {},
                      {},          budget_bits,       fixed_bytes, std::move(fallbacks)};
    auto& plan = result.plan;
    plan.model_path = path;
    plan.model_identity = hex64(model_identity(path).content);
    for (std::size_t l = 0; l < layers.size(); ++l) {
        const auto& item = result.solver.layers()[item_of[l]];
        const auto& spec = item.candidates[chosen->choice[item_of[l]]].spec;
        for (const auto& candidate : layers[l].candidates)
            if (candidate.spec == spec)
                result.layer_choices.push_back(candidate);
        result.only_choice.push_back(layers[l].candidates.size() == 1);
        plan.layers.emplace_back(layers[l].name, QuantSpec::parse(spec));
    }
    plan.budget = request.budget;
    plan.metric = std::string(damage_metric_name(request.metric));
    QuantPlan::Summary summary;
    summary.parameters = parameters;
    summary.size_bytes = (chosen->cost_bits + 7) / 8 + fixed_bytes;
    summary.bits_per_weight =
        parameters ? static_cast<double>(chosen->cost_bits) / static_cast<double>(parameters) : 0;
    summary.predicted_damage = chosen->damage;
    plan.summary = summary;
    return result;
}

}  // namespace quantlens
