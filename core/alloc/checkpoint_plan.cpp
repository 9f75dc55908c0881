#include "alloc/checkpoint_plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "alloc/planning.hpp"
#include "analysis/layer_analysis.hpp"
#include "quant/layer_preview.hpp"
#include "quant/stored_spec.hpp"
#include "util/csv.hpp"
#include "util/error.hpp"

namespace quantlens {

namespace {

// A layer the other file stores quantized, with figures.
bool is_planned(const LayerDiff& row) {
    return row.error.empty() && row.quantized && !row.base_parts.empty();
}

// llama.cpp's legacy and K-quant types: a GGUF's layers are planned among these.
const std::vector<std::string>& ggml_family() {
    static const std::vector<std::string> kTypes = {"q2_k", "q3_k", "q4_0", "q4_1", "q4_k",
                                                    "q5_0", "q5_1", "q5_k", "q6_k", "q8_0"};
    return kTypes;
}

void add_unique(std::vector<QuantSpec>& specs, const QuantSpec& spec) {
    if (std::find(specs.begin(), specs.end(), spec) == specs.end())
        specs.push_back(spec);
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// The specs of one stored weight's family; empty when no spec describes its form.
std::vector<QuantSpec> family_of(const TensorInfo& info, Orientation orientation) {
    std::vector<QuantSpec> out;
    if (const auto& q = info.quantization) {
        if (q->packing == CheckpointPacking::Bitsandbytes4 && q->code_name == "nf4") {
            out.push_back(QuantSpec::parse("nf4:g" + std::to_string(q->block_size)));
        } else {
            // Act order's g_idx only reorders the groups: the family is that of its group size.
            // The scales are stored as the file stores them, so a bit costs the same in both.
            StoredQuantization plain = *q;
            plain.group_index.reset();
            if (auto spec = spec_of_stored(plain, orientation)) {
                if (q->scales.dtype == DType::F16)
                    spec->scale_storage = ScaleStorage::F16;
                else if (q->scales.dtype == DType::BF16)
                    spec->scale_storage = ScaleStorage::BF16;
                out = bits_sweep(*spec);
            }
        }
    } else if (dtype_info(info.dtype).is_block) {
        for (const auto& type : ggml_family())
            out.push_back(QuantSpec::parse(type));
        try {  // the file's own type, when it is not among them (an i-quant, say)
            add_unique(out, QuantSpec::parse(lower(dtype_name(info.dtype))));
        } catch (const Error&) {
        }
    }
    return out;
}

QuantMetrics metrics_of(const ErrorSums& sums, std::uint64_t count) {
    return count ? metrics_from_sums(sums, count) : QuantMetrics{};
}

}  // namespace

std::vector<QuantSpec> checkpoint_family(const Model& other, const ModelDiff& diff) {
    std::vector<QuantSpec> out;
    for (const auto& row : diff.layers) {
        if (!is_planned(row))
            continue;
        for (const auto& name : row.other_parts) {
            const auto& layer = other.layer(name);
            for (const auto& spec : family_of(other.file().tensor(layer.weight), layer.orientation))
                add_unique(out, spec);
        }
    }
    if (out.size() < 2)
        for (const auto& text : default_candidates())
            add_unique(out, QuantSpec::parse(text));
    return out;
}

PlanAtSize plan_at_checkpoint_size(const Model& base, const Model& other, const ModelDiff& diff,
                                   std::vector<QuantSpec> candidates, const Progress& progress,
                                   const CancelToken* cancel) {
    PlanAtSize result;
    result.candidates_from = candidates.empty() ? "the checkpoint's formats" : "the user";
    result.candidates = candidates.empty() ? checkpoint_family(other, diff) : std::move(candidates);

    // The float weights of every layer the file stores quantized, each measured with every
    // candidate (the analysis of `analyze`, statistics and QSUR aside).
    std::vector<const LayerDiff*> rows;
    std::set<std::string> seen;
    AnalysisReport report;
    report.path = base.file().path();
    report.specs = result.candidates;
    AnalysisOptions options;
    options.specs = result.candidates;
    options.qsur = false;
    std::vector<const Layer*> layers;
    for (const auto& row : diff.layers) {
        if (!is_planned(row)) {
            result.not_planned.push_back(row.layer + ": " +
                                         (!row.error.empty() ? row.error : "not stored quantized"));
            continue;
        }
        rows.push_back(&row);
        for (const auto& name : row.base_parts)
            if (seen.insert(name).second)
                layers.push_back(&base.layer(name));
    }
    if (rows.empty())
        throw Error(diff.other, "its layers", "none is stored quantized: there is no size to plan at");
    QuantResult scratch;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        if (cancel)
            cancel->throw_if_cancelled();
        if (progress)
            progress(i, layers.size() + rows.size(), layers[i]->name);
        report.layers.push_back(analyze_layer(base, *layers[i], options, std::nullopt, cancel, &scratch));
    }

    // The budget: exactly the file's bits for those layers, per weight of them.
    double checkpoint_bits = 0;
    ErrorSums checkpoint_sums{0, 0, 0, 0, 0, INFINITY, -INFINITY};  // the identity of combine
    for (const auto* row : rows) {
        std::uint64_t count = 1;
        for (const auto extent : row->shape)
            count *= static_cast<std::uint64_t>(extent);
        checkpoint_bits += row->bits_per_weight * static_cast<double>(count);
        checkpoint_sums = combine(checkpoint_sums, row->sums);
        result.parameters += count;
    }
    PlanRequest request;
    request.candidates = result.candidates;
    request.metric = DamageMetric::Mse;
    request.budget = {Budget::Kind::BitsPerWeight, checkpoint_bits / static_cast<double>(result.parameters)};
    const PlanResult plan = plan_allocation(base, report, request);
    std::map<std::string, QuantSpec> chosen;
    for (const auto& [name, spec] : plan.plan.layers)
        chosen.emplace(name, spec);

    // Each row's plan, measured with the diff's sums on the same layout as its checkpoint figures.
    QuantOptions quant_options;
    quant_options.cancel = cancel;
    quant_options.codes = false;
    quant_options.error_histogram = false;
    ErrorSums plan_sums{0, 0, 0, 0, 0, INFINITY, -INFINITY};
    double plan_bits = 0;
    std::vector<float> original, approximation;
    for (std::size_t r = 0; r < rows.size(); ++r) {
        const auto& row = *rows[r];
        if (progress)
            progress(layers.size() + r, layers.size() + rows.size(), row.layer);
        PlannedLayer planned;
        planned.layer = row.layer;
        planned.checkpoint_bits = row.bits_per_weight;
        planned.checkpoint = row.metrics;
        original.clear();
        approximation.clear();
        double bits = 0;
        for (const auto& name : row.base_parts) {
            const auto& layer = base.layer(name);
            const auto found = chosen.find(name);
            if (found == chosen.end())
                throw Error(base.file().path(), "layer \"" + name + "\"", "the plan gave it no spec");
            const auto weights = base.read_weights(layer);
            quant_options.importance = base.importance(layer);
            quantize_into(as_matrix(weights.values(), weights.shape), found->second, quant_options, scratch);
            original.insert(original.end(), weights.values().begin(), weights.values().end());
            approximation.insert(approximation.end(), scratch.dequantized.begin(), scratch.dequantized.end());
            bits += scratch.metrics.bits_per_weight * static_cast<double>(weights.values().size());
            planned.specs.push_back(found->second.to_string());
        }
        const auto sums = weight_error_sums(original, approximation);
        planned.plan = metrics_of(sums, original.size());
        planned.plan_bits = original.empty() ? 0 : bits / static_cast<double>(original.size());
        plan_sums = combine(plan_sums, sums);
        plan_bits += bits;
        result.layers.push_back(std::move(planned));
    }
    const auto checkpoint_total = metrics_of(checkpoint_sums, result.parameters);
    const auto plan_total = metrics_of(plan_sums, result.parameters);
    result.checkpoint_bits = checkpoint_bits / static_cast<double>(result.parameters);
    result.plan_bits = plan_bits / static_cast<double>(result.parameters);
    result.checkpoint_mse = checkpoint_total.mse;
    result.plan_mse = plan_total.mse;
    result.checkpoint_sqnr_db = checkpoint_total.sqnr_db;
    result.plan_sqnr_db = plan_total.sqnr_db;
    return result;
}

nlohmann::ordered_json to_json(const PlanAtSize& plan) {
    auto number = [](double value) {
        return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
    };
    auto metrics = [&](const QuantMetrics& m, double bits) {
        return nlohmann::ordered_json{{"bits_per_weight", bits},
                                      {"mse", m.mse},
                                      {"sqnr_db", number(m.sqnr_db)},
                                      {"cosine", m.cosine},
                                      {"max_abs_error", m.max_abs_error}};
    };
    nlohmann::ordered_json out;
    out["candidates_from"] = plan.candidates_from;
    out["candidates"] = nlohmann::ordered_json::array();
    for (const auto& spec : plan.candidates)
        out["candidates"].push_back(spec.to_string());
    out["layers"] = nlohmann::ordered_json::array();
    for (const auto& row : plan.layers)
        out["layers"].push_back({{"layer", row.layer},
                                 {"specs", row.specs},
                                 {"checkpoint", metrics(row.checkpoint, row.checkpoint_bits)},
                                 {"plan", metrics(row.plan, row.plan_bits)}});
    out["not_planned"] = plan.not_planned;
    out["total"] = {{"parameters", plan.parameters},
                    {"checkpoint",
                     {{"bits_per_weight", plan.checkpoint_bits},
                      {"mse", plan.checkpoint_mse},
                      {"sqnr_db", number(plan.checkpoint_sqnr_db)}}},
                    {"plan",
                     {{"bits_per_weight", plan.plan_bits},
                      {"mse", plan.plan_mse},
                      {"sqnr_db", number(plan.plan_sqnr_db)}}}};
    return out;
}

namespace {

std::string joined(const std::vector<std::string>& specs) {
    std::string out;
    for (const auto& spec : specs)
        if (out.find(spec) == std::string::npos)
            out += (out.empty() ? "" : " + ") + spec;
    return out;
}

}  // namespace

std::string to_table(const PlanAtSize& plan) {
    std::string out =
        "QuantLens's plan at the checkpoint's size (candidates from " + plan.candidates_from + ":";
    for (const auto& spec : plan.candidates)
        out += " " + spec.to_string();
    out += ")\n";
    char line[512];
    std::snprintf(line, sizeof line, "%-40s %8s %9s  %-22s %8s %9s %9s\n", "LAYER", "BITS/W", "SQNR dB",
                  "PLAN", "BITS/W", "SQNR dB", "GAIN dB");
    out += line;
    for (const auto& row : plan.layers) {
        std::snprintf(line, sizeof line, "%-40s %8.3f %9.2f  %-22s %8.3f %9.2f %+9.2f\n", row.layer.c_str(),
                      row.checkpoint_bits, row.checkpoint.sqnr_db, joined(row.specs).c_str(), row.plan_bits,
                      row.plan.sqnr_db, row.plan.sqnr_db - row.checkpoint.sqnr_db);
        out += line;
    }
    std::snprintf(line, sizeof line,
                  "total over %llu weights: checkpoint %.3f bits/weight, MSE %.5g, SQNR %.2f dB; plan %.3f "
                  "bits/weight, MSE %.5g, SQNR %.2f dB (%+.2f dB)\n",
                  static_cast<unsigned long long>(plan.parameters), plan.checkpoint_bits, plan.checkpoint_mse,
                  plan.checkpoint_sqnr_db, plan.plan_bits, plan.plan_mse, plan.plan_sqnr_db,
                  plan.plan_sqnr_db - plan.checkpoint_sqnr_db);
    out += line;
    if (!plan.not_planned.empty()) {
        out += "not planned:";
        for (const auto& why : plan.not_planned)
            out += "\n  " + why;
        out += "\n";
    }
    return out;
}

std::string to_csv(const PlanAtSize& plan) {
    std::string out =
        "layer,plan_specs,checkpoint_bits_per_weight,checkpoint_mse,checkpoint_sqnr_db,checkpoint_cosine,"
        "checkpoint_max_abs_error,plan_bits_per_weight,plan_mse,plan_sqnr_db,plan_cosine,plan_max_abs_"
        "error\n";
    auto figures = [](const QuantMetrics& m, double bits) {
        return csv_number(bits) + "," + csv_number(m.mse) + "," + csv_number(m.sqnr_db) + "," +
               csv_number(m.cosine) + "," + csv_number(m.max_abs_error);
    };
    for (const auto& row : plan.layers)
        out += csv_field(row.layer) + "," + csv_field(joined(row.specs)) + "," +
               figures(row.checkpoint, row.checkpoint_bits) + "," + figures(row.plan, row.plan_bits) + "\n";
    out += "(total),," + csv_number(plan.checkpoint_bits) + "," + csv_number(plan.checkpoint_mse) + "," +
           csv_number(plan.checkpoint_sqnr_db) + ",,," + csv_number(plan.plan_bits) + "," +
           csv_number(plan.plan_mse) + "," + csv_number(plan.plan_sqnr_db) + ",,\n";
    return out;
}

}  // namespace quantlens
