#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli_common.hpp"
#include "util/json_number.hpp"
#include "quant/comparison.hpp"

namespace quantlens::cli {

nlohmann::ordered_json metrics_to_json(const QuantMetrics& m);

namespace {
std::vector<FailedSpec> failed_specs(const Comparison& comparison, const std::vector<QuantSpec>& specs) {
    std::vector<FailedSpec> failures;
    for (const auto& row : comparison.layers)
        for (std::size_t s = 0; s < row.outcomes.size(); ++s)
            if (row.outcomes[s].failed)
                failures.push_back({row.layer, specs[s], row.outcomes[s].error});
    return failures;
}
}  // namespace

void add_compare(CLI::App& app) {
    auto* command = app.add_subcommand(
        "compare", "Compare quantizer specs side by side, per layer and for the whole model");
    struct Options {
        std::string model, layer, imatrix;
        bool all = false, json = false;
        std::vector<std::string> specs;
    };
    auto options = std::make_shared<Options>();
    command->add_option("MODEL", options->model, "model file or Hugging Face folder")->required();
    auto* layer = command->add_option("--layer", options->layer, "one layer");
    auto* all =
        command->add_flag("--all", options->all, "every linear, conv and embedding layer (the default)");
    layer->excludes(all);
    command->add_option("--spec", options->specs, "a spec; give two or more")->required()->expected(1, -1);
    command->add_flag("--json", options->json, "print JSON");
    add_imatrix_option(command, options->imatrix);
    command->callback([options] {
        set_command([options] {
            if (options->specs.size() < 2)
                throw Error("", "--spec", "compare needs at least two specs");
            std::vector<QuantSpec> specs;
            for (const auto& text : options->specs)
                specs.push_back(QuantSpec::parse(text));
            auto model = open_model(options->model);
            attach_importance(model, options->imatrix);
            std::vector<const Layer*> layers;
            if (!options->layer.empty())
                layers.push_back(&model.layer(options->layer));
            else
                layers = quantizable_layers(model);
            auto comparison = compare_specs(model, layers, specs, stderr_progress("w"), &interrupt_token());
            if (options->json) {
                nlohmann::ordered_json out;
                out["schema"] = "quantlens.compare/1";
                out["specs"] = options->specs;
                for (auto& spec : out["specs"])
                    spec = QuantSpec::parse(spec.get<std::string>()).to_string();
                out["layers"] = nlohmann::ordered_json::array();
                for (const auto& row : comparison.layers) {
                    nlohmann::ordered_json j{{"layer", row.layer},
                                             {"parameters", row.parameters},
                                             {"results", nlohmann::ordered_json::array()}};
                    for (const auto& outcome : row.outcomes)
                        j["results"].push_back(
                            outcome.metrics ? metrics_to_json(*outcome.metrics)
                            : outcome.failed
                                ? nlohmann::ordered_json{{"error", outcome.error}, {"failed", true}}
                                : nlohmann::ordered_json{{"error", outcome.error}});
                    out["layers"].push_back(j);
                }
                out["totals"] = nlohmann::ordered_json::array();
                for (const auto& t : comparison.totals)
                    out["totals"].push_back(
                        {{"parameters", t.parameters},
                         {"size_bytes", t.size_bytes},
                         {"bits_per_weight", t.bits_per_weight},
                         {"sqnr_db", t.parameters ? json_number<nlohmann::ordered_json>(t.sqnr_db)
                                                  : nlohmann::ordered_json()},
                         {"layers", t.layers},
                         {"skipped_layers", t.skipped_layers},
                         {"complete", t.complete()}});
                const auto best = comparison.best_total();
                out["best_total"] = best ? nlohmann::ordered_json(*best) : nlohmann::ordered_json();
                std::cout << out.dump(2) << "\n";
                return report_failed_specs(failed_specs(comparison, specs));
            }
            // One column pair (SQNR dB, bits/weight) per spec; the best SQNR per layer marked *.
            std::printf("%-36s %12s", "LAYER", "PARAMS");
            for (const auto& spec : specs)
                std::printf("  %22.22s", spec.to_string().c_str());
            std::printf("\n%-36s %12s", "", "");
            for (std::size_t s = 0; s < specs.size(); ++s)
                std::printf("  %13s %8s", "SQNR dB", "bits/w");
            std::printf("\n");
            for (const auto& row : comparison.layers) {
                double best = -INFINITY;
                for (const auto& outcome : row.outcomes)
                    if (outcome.metrics)
                        best = std::max(best, outcome.metrics->sqnr_db);
                std::printf("%-36.36s %12llu", row.layer.c_str(),
                            static_cast<unsigned long long>(row.parameters));
                for (const auto& outcome : row.outcomes) {
                    if (!outcome.metrics) {
                        std::printf("  %22s", outcome.failed ? "error" : "n/a");
                        continue;
                    }
                    std::printf("  %12.2f%s %8.3f", outcome.metrics->sqnr_db,
                                outcome.metrics->sqnr_db == best ? "*" : " ",
                                outcome.metrics->bits_per_weight);
                }
                std::printf("\n");
            }
            // Whole-model figures cover only the layers a spec took; "best" (*) goes to the highest
            // SQNR among the specs that took every layer, and a partial total is marked ~.
            const auto best = comparison.best_total();
            std::printf("%-36s %12llu", "WHOLE MODEL",
                        static_cast<unsigned long long>(comparison.parameters));
            for (std::size_t s = 0; s < comparison.totals.size(); ++s) {
                const auto& t = comparison.totals[s];
                if (t.parameters)
                    std::printf("  %12.2f%s %8.3f", t.sqnr_db,
                                best == s      ? "*"
                                : t.complete() ? " "
                                               : "~",
                                t.bits_per_weight);
                else
                    std::printf("  %22s", "n/a");
            }
            std::printf("\n%-36s %12s", "  size", "");
            for (const auto& t : comparison.totals)
                std::printf("  %22.1f", static_cast<double>(t.size_bytes) / 1024.0);
            std::printf("  KiB\n%-36s %12s", "  layers covered", "");
            for (const auto& t : comparison.totals) {
                const auto text =
                    std::to_string(t.layers) + " of " + std::to_string(t.layers + t.skipped_layers);
                std::printf("  %22s", text.c_str());
            }
            std::printf("\n");
            for (const auto& t : comparison.totals)
                if (!t.complete()) {
                    std::printf("~ covers part of the model only: not comparable with complete totals\n");
                    break;
                }
            for (std::size_t s = 0; s < specs.size(); ++s)
                for (const auto& row : comparison.layers)
                    if (!row.outcomes[s].metrics && !row.outcomes[s].failed)
                        std::printf("n/a: %s on %s: %s\n", specs[s].to_string().c_str(), row.layer.c_str(),
                                    row.outcomes[s].error.c_str());
            std::fflush(stdout);
            return report_failed_specs(failed_specs(comparison, specs));
        });
    });
}

}  // namespace quantlens::cli
