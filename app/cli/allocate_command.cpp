#include <cstdio>
#include <iostream>

#include <algorithm>

#include "alloc/llama_mix.hpp"
#include "alloc/planning.hpp"
#include "analysis/model_analysis.hpp"
#include "cli_common.hpp"
#include "sensitivity/allocation_evidence.hpp"
#include "sensitivity/sensitivity_import.hpp"
#include "export/export_refusals.hpp"
#include "quant/comparison.hpp"
#include "export/llama_quantize_types.hpp"
#include "util/atomic_file.hpp"

namespace quantlens::cli {

namespace {

// "PATTERN=SPEC" split at the first '=' (specs may contain '=', e.g. clip=mse).
std::pair<std::string, QuantSpec> pattern_and_spec(const std::string& text, const char* option) {
    const auto equals = text.find('=');
    if (equals == std::string::npos || equals == 0)
        throw Error("", std::string(option) + " \"" + text + "\"", "expected PATTERN=SPEC");
    return {text.substr(0, equals), QuantSpec::parse(text.substr(equals + 1))};
}

std::string print_plan(const PlanResult& result, const AnalysisReport& report) {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "%-40s %-9s %11s  %-24s %6s %12s\n", "LAYER", "KIND", "PARAMS", "SPEC",
                  "BPW", "DAMAGE");
    out += line;
    for (std::size_t l = 0; l < result.layer_choices.size(); ++l) {
        const auto& candidate = result.layer_choices[l];
        const auto parameters = static_cast<double>(report.layers[l].parameters);
        std::snprintf(line, sizeof line, "%-40.40s %-9s %11llu  %-24.24s %6.3f %12.4g%s\n",
                      report.layers[l].layer.c_str(),
                      std::string(layer_kind_name(report.layers[l].kind)).c_str(),
                      static_cast<unsigned long long>(report.layers[l].parameters), candidate.spec.c_str(),
                      static_cast<double>(candidate.cost_bits) / parameters, candidate.damage,
                      result.only_choice[l] ? "  (only choice)" : "");
        out += line;
    }
    const auto& summary = *result.plan.summary;
    std::snprintf(line, sizeof line,
                  "\nplan: %.4f bits/weight over %llu parameters, %llu bytes in all (%llu kept as they are), "
                  "predicted damage %.6g (%s)\n",
                  summary.bits_per_weight, static_cast<unsigned long long>(summary.parameters),
                  static_cast<unsigned long long>(summary.size_bytes),
                  static_cast<unsigned long long>(result.fixed_bytes), summary.predicted_damage,
                  result.plan.metric.c_str());
    out += line;
    if (!result.fallbacks.empty()) {
        out += "\nfallbacks, as llama-quantize makes them:\n";
        for (const auto& fallback : result.fallbacks)
            out += "  " + fallback + "\n";
    }
    const auto& frontier = result.solver.frontier();
    std::snprintf(line, sizeof line,
                  "\nPareto frontier (%zu efficient plans; bits/weight against predicted damage):\n",
                  frontier.size());
    out += line;
    const std::size_t shown = std::min<std::size_t>(frontier.size(), 16);
    for (std::size_t i = 0; i < shown; ++i) {
        const auto& point = frontier[shown == 1 ? 0 : i * (frontier.size() - 1) / (shown - 1)];
        const bool chosen =
            point.cost_bits == result.chosen.cost_bits && point.damage == result.chosen.damage;
        std::snprintf(line, sizeof line, "  %8.4f bpw  %12.6g%s\n",
                      static_cast<double>(point.cost_bits) / static_cast<double>(summary.parameters),
                      point.damage, chosen ? "  <- chosen" : "");
        out += line;
    }
    return out;
}

// The optimal plan beside llama-quantize's mix: sizes, predicted damage, and the layers that differ.
std::string print_mix_comparison(const std::string& mix_name, const PlanResult& mix, const PlanResult& plan,
                                 const AnalysisReport& report) {
    const auto& m = *mix.plan.summary;
    const auto& p = *plan.plan.summary;
    char line[512];
    std::string out = "\n";
    std::snprintf(line, sizeof line, "llama-quantize %-8s %.4f bits/weight, predicted damage %.6g\n",
                  mix_name.c_str(), m.bits_per_weight, m.predicted_damage);
    out += line;
    std::snprintf(
        line, sizeof line, "this plan               %.4f bits/weight, predicted damage %.6g (%+.1f%%)\n",
        p.bits_per_weight, p.predicted_damage,
        m.predicted_damage > 0 ? 100.0 * (p.predicted_damage - m.predicted_damage) / m.predicted_damage
                               : 0.0);
    out += line;
    std::string changes;
    std::size_t differ = 0;
    for (std::size_t l = 0; l < plan.layer_choices.size() && l < mix.layer_choices.size(); ++l) {
        if (plan.layer_choices[l].spec == mix.layer_choices[l].spec)
            continue;
        ++differ;
        std::snprintf(line, sizeof line, "  %-40.40s %-8s -> %s\n", report.layers[l].layer.c_str(),
                      mix.layer_choices[l].spec.c_str(), plan.layer_choices[l].spec.c_str());
        changes += line;
    }
    std::snprintf(line, sizeof line, "differs from the mix on %zu of %zu layers%s\n", differ,
                  plan.layer_choices.size(), differ ? ":" : "");
    return out + line + changes;
}

}  // namespace

void add_allocate(CLI::App& app) {
    auto* command = app.add_subcommand(
        "allocate", "Choose a spec per layer under a size budget (mixed precision) and write the plan");
    struct Options {
        std::string model, budget, metric = "mse", out, cache_dir, llama_types, calib, imatrix, mix;
        std::string lrp_rule = "epsilon", for_format, sensitivity_report;
        std::vector<std::string> candidates, kinds, pins;
        bool json = false, no_cache = false, tie_fused = false, force = false, keep_mix = false;
    };
    auto options = std::make_shared<Options>();
    command->add_option("MODEL", options->model, "model file or Hugging Face folder")->required();
    command->add_option("--budget", options->budget,
                        "average bits per weight (4.5bpw) or the weights' size (2.1GB, 1.5GiB, 800MB); with "
                        "--mix, default: the mix's own size");
    command->add_option("--mix", options->mix,
                        "start from llama-quantize's named mix (" +
                            CLI::detail::join(llama_mix_names(), ", ") +
                            "): its types are the candidates (unless --candidate is given), and the plan is "
                            "compared with the mix layer by layer");
    command->add_flag("--keep-mix", options->keep_mix,
                      "write the mix itself (--out, --llama-tensor-types) rather than the optimal plan");
    command
        ->add_option(
            "--metric", options->metric,
            "predicted damage: squared error (mse) times 1, the kurtosis, the max-to-mean ratio, or "
            "HAWQ-V2's Omega = Tr(H)/n times it "
            "(hawq: needs --calib), or the measured delta loss with the layer alone quantized "
            "(measured: needs --calib), or its Fisher-Taylor estimate (fisher: needs --calib); models "
            "the engine runs: Keras classifiers, GPT-2 and LLaMA; or the squared error weighted by "
            "llama.cpp's importance matrix (imatrix: needs --imatrix, any model it covers); or the "
            "layer's LRP contribution times the share of its weights' energy the spec loses (lrp: "
            "needs --calib; LRP-QViT's evidence)")
        ->check(CLI::IsMember(
            {"mse", "kurtosis", "max_to_mean", "hawq", "measured", "fisher", "imatrix", "lrp"}));
    command->add_option("--calib", options->calib,
                        "labelled calibration data (x, y) for --metric hawq, measured, fisher and lrp");
    command->add_option(
        "--sensitivity-report", options->sensitivity_report,
        "take --metric hawq, measured, fisher or lrp from this report (`sensitivity --json`, or "
        "a runner's on other machines) instead of running the engine on --calib");
    command->add_option("--lrp-rule", options->lrp_rule, "LRP rule for --metric lrp")
        ->check(CLI::IsMember({"epsilon", "gamma", "zplus"}));
    command->add_option("--candidate", options->candidates,
                        "a spec every layer may take (repeatable; default " +
                            CLI::detail::join(default_candidates(), ", ") + ")");
    command->add_option("--kind", options->kinds,
                        "KIND=SPEC: a candidate for one layer kind (linear, conv, embedding) instead of "
                        "--candidate (repeatable)");
    command->add_option(
        "--pin", options->pins,
        "PATTERN=SPEC: layers whose name matches the regex take this spec (repeatable; first match wins)");
    command->add_option("--for-format", options->for_format,
                        "offer each layer only the candidates this export format accepts for it (the "
                        "exporter's own checks: gguf, fakequant, safetensors-packed, gptqmodel, "
                        "compressed-tensors, aimet, llama-tensor-types)");
    command->add_option("--out", options->out, "write the plan (quantlens.plan/1) to this file, atomically");
    command->add_option(
        "--llama-tensor-types", options->llama_types,
        "also write the plan as a llama-quantize --tensor-type-file (GGUF models, ggml types only)");
    command->add_flag("--force", options->force,
                      "replace --out if it is an earlier QuantLens plan (nothing else is ever replaced)");
    command->add_flag("--tie-fused", options->tie_fused,
                      "give q/k/v and gate/up projections of a block one spec, as vLLM fuses them (needed "
                      "for --format safetensors-packed)");
    command->add_flag("--json", options->json, "print the plan as JSON instead of the table");
    auto* no_cache =
        command->add_flag("--no-cache", options->no_cache, "neither read nor write the analysis cache");
    command->add_option("--cache-dir", options->cache_dir, "analysis cache folder")->excludes(no_cache);
    add_imatrix_option(command, options->imatrix);
    command->callback([options] {
        set_command([options] {
            PlanRequest request;
            if (options->budget.empty() && options->mix.empty())
                throw Error("", "--budget", "is needed (or --mix, whose size is then the budget)");
            if (!options->budget.empty())
                request.budget = Budget::parse(options->budget);
            request.tie_fused = options->tie_fused;
            request.metric = parse_damage_metric(options->metric);
            if (options->candidates.empty() && options->kinds.empty() && options->mix.empty())
                options->candidates = default_candidates();
            for (const auto& text : options->candidates)
                request.candidates.push_back(QuantSpec::parse(text));
            for (const auto& text : options->kinds) {
                auto [kind_name, spec] = pattern_and_spec(text, "--kind");
                const auto kind = layer_kind_from_name(kind_name);
                if (kind == LayerKind::Other || kind == LayerKind::Norm)
                    throw Error("", "--kind \"" + text + "\"",
                                "expected linear, conv or embedding before '='");
                request.kind_candidates[kind].push_back(spec);
            }
            for (const auto& text : options->pins)
                request.pins.push_back(pattern_and_spec(text, "--pin"));

            auto model = open_model(options->model);
            if (!options->out.empty() && options->out == options->llama_types)
                throw Error(options->out, "",
                            "named by both --out and --llama-tensor-types; give each its own file");
            const std::vector<std::string> inputs = {options->calib, options->imatrix,
                                                     options->sensitivity_report};
            guard_cli_output(options->out, model, inputs, options->force);
            guard_cli_output(options->llama_types, model, inputs, options->force);
            attach_importance(model, options->imatrix);
            std::optional<QuantPlan> mix;
            if (!options->mix.empty()) {
                mix = llama_mix_plan(model, options->mix, !options->imatrix.empty());
                if (options->candidates.empty() && options->kinds.empty())
                    for (const auto& entry : mix->layers)  // (clang 14 cannot capture a structured binding)
                        if (std::none_of(request.candidates.begin(), request.candidates.end(),
                                         [&](const QuantSpec& known) { return known == entry.second; }))
                            request.candidates.push_back(entry.second);
                for (const auto& [layer, spec] : mix->layers)  // measured, whatever the candidates
                    request.also_measure.push_back(spec);
            }
            AnalysisOptions analysis;
            analysis.specs = specs_to_measure(request);
            analysis.qsur = false;  // not a damage metric here; the analysis cache keeps what it measures
            analysis.use_cache = !options->no_cache;
            analysis.cache_dir = options->cache_dir;
            if (request.metric == DamageMetric::Imatrix && options->imatrix.empty())
                throw Error("", "--metric imatrix",
                            "needs --imatrix FILE (llama-imatrix's, or QuantLens's `imatrix`)");
            if (!options->for_format.empty()) {
                if (const auto why = export_source_refusal(model, options->for_format); !why.empty())
                    throw Error(model.file().path(), "--for-format " + options->for_format, why);
                request.refused =
                    export_refusals(model, options->for_format, quantizable_layers(model), analysis.specs);
            }
            const auto report = analyze_model(model, analysis, stderr_progress("w"), &interrupt_token());
            if (is_model_based(request.metric) && !options->sensitivity_report.empty()) {
                auto evidence = evidence_of(import_sensitivity_report(model, options->sensitivity_report));
                request.hessian_traces = std::move(evidence.hessian_traces);
                request.measured_damage = std::move(evidence.measured_damage);
                request.fisher_damage = std::move(evidence.fisher_damage);
                request.lrp_contributions = std::move(evidence.lrp_contributions);
            } else if (request.metric == DamageMetric::Hawq) {
                if (options->calib.empty())
                    throw Error("", "--metric hawq",
                                "needs --calib with labelled calibration data for the Hessian traces");
                request.hessian_traces = hessian_evidence(model, load_model_data(model, options->calib),
                                                          stderr_progress("layers"), &interrupt_token())
                                             .hessian_traces;
            } else if (request.metric == DamageMetric::Lrp) {
                if (options->calib.empty())
                    throw Error("", "--metric lrp",
                                "needs --calib with labelled calibration data to explain");
                LrpOptions lrp;
                lrp.rule = lrp_rule_from_name(options->lrp_rule);
                request.lrp_contributions =
                    lrp_evidence(model, load_model_data(model, options->calib), lrp, &interrupt_token())
                        .lrp_contributions;
            } else if (request.metric == DamageMetric::Measured || request.metric == DamageMetric::Fisher) {
                if (options->calib.empty())
                    throw Error("", "--metric " + options->metric,
                                "needs --calib with labelled calibration data to measure the loss on");
                auto evidence =
                    measured_evidence(model, load_model_data(model, options->calib), analysis.specs,
                                      stderr_progress("steps"), &interrupt_token());
                request.measured_damage = std::move(evidence.measured_damage);
                request.fisher_damage = std::move(evidence.fisher_damage);
            }
            std::optional<PlanResult> mix_result;
            if (mix) {  // the mix through the same damage model: every layer pinned to its type
                PlanRequest pinned = request;
                pinned.pins.clear();
                for (const auto& [layer, spec] : mix->layers)
                    pinned.pins.push_back({exact_pattern(layer), spec});
                pinned.budget = Budget{Budget::Kind::BitsPerWeight, 64};
                mix_result = plan_allocation(model, report, pinned);
                mix_result->plan.metric =
                    request.metric == DamageMetric::Mse ? mix->metric : mix_result->plan.metric;
                if (options->budget.empty())  // its bytes: its bits per weight could round below its cost
                    request.budget = Budget{Budget::Kind::Bytes,
                                            static_cast<double>(mix_result->plan.summary->size_bytes)};
            }
            auto result = plan_allocation(model, report, request);
            // The knapsack rounds each layer's cost up to its unit, so at the mix's own size it can
            // miss the mix itself: a mix that fits the budget with less predicted damage is the plan.
            if (mix_result) {
                const auto& b = request.budget;
                const auto& m = *mix_result->plan.summary;
                const bool fits = b.kind == Budget::Kind::Bytes ? static_cast<double>(m.size_bytes) <= b.value
                                                                : m.bits_per_weight <= b.value;
                if (fits && m.predicted_damage < result.plan.summary->predicted_damage) {
                    const auto metric = result.plan.metric;
                    const auto budget = result.plan.budget;
                    result.plan = mix_result->plan;
                    result.plan.metric = metric;
                    result.plan.budget = budget;
                    result.layer_choices = mix_result->layer_choices;
                    result.chosen.cost_bits = mix_result->chosen.cost_bits;  // for the frontier's marker
                    result.chosen.damage = mix_result->chosen.damage;
                }
            }
            if (mix_result && options->keep_mix)
                result.plan = mix_result->plan;
            std::string llama_types;  // checked before anything is written
            if (!options->llama_types.empty())
                llama_types =
                    llama_quantize_tensor_types(model, resolve_plan(result.plan, model, "(this plan)"));
            if (options->json)
                std::cout << to_json(result.plan).dump(2) << "\n";
            else
                std::cout << print_plan(result, report)
                          << (mix_result ? print_mix_comparison(options->mix, *mix_result, result, report)
                                         : "");
            if (!options->out.empty()) {
                save_plan(result.plan, options->out);
                std::cerr << "wrote " << options->out << "\n";
            }
            if (!options->llama_types.empty()) {
                AtomicFile types(options->llama_types);
                types.write(llama_types.data(), llama_types.size());
                types.commit();
                std::cerr << "wrote " << options->llama_types << " (llama-quantize --tensor-type-file)\n";
            }
            return 0;
        });
    });
}

}  // namespace quantlens::cli
