#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli_common.hpp"
#include "sensitivity/hessian_sensitivity.hpp"

namespace quantlens::cli {

void add_sensitivity(CLI::App& app) {
    auto* command = app.add_subcommand("sensitivity", "Model-based sensitivity on calibration data: per-layer Hessian traces (HAWQ-V2) and Omega per spec");
    struct Options {
        std::string model, calib, metrics = "hessian";
        std::vector<std::string> specs;
        std::size_t samples = 0;
        std::uint64_t seed = 0;
        bool exact = false, json = false;
    };
    auto options = std::make_shared<Options>();
    command->add_option("MODEL", options->model, "a Keras .h5 Dense network (the engine's first architecture)")->required();
    command->add_option("--calib", options->calib, "labelled calibration data: .npz with x [samples, features] and integer y [samples]")->required();
    command->add_option("--metrics", options->metrics, "hessian: Hutchinson per-layer traces")->check(CLI::IsMember({"hessian"}));
    command->add_option("--spec", options->specs, "specs to rate by HAWQ's Omega = Tr(H)/n * ||Q(W) - W||^2 (repeatable)");
    command->add_option("--samples", options->samples, "use the first N calibration samples (default all)");
    command->add_option("--seed", options->seed, "seed of the Rademacher vectors");
    command->add_flag("--exact", options->exact, "also the exact trace (one Hessian-vector product per parameter)");
    command->add_flag("--json", options->json, "print JSON");
    command->callback([options] {
        set_command([options] {
            std::vector<QuantSpec> specs;
            for (const auto& text : options->specs) specs.push_back(QuantSpec::parse(text));
            const auto model = Model::open(options->model);
            const auto data = load_labelled_data(options->calib, options->samples);
            HessianOptions hessian;
            hessian.hutchinson.seed = options->seed;
            hessian.exact = options->exact;
            const auto report = hessian_sensitivity(model, data, specs, hessian, stderr_progress("layers"), &interrupt_token());
            if (options->json) {
                nlohmann::ordered_json out = {{"schema", "quantlens.sensitivity/1"}, {"model", options->model}, {"samples", report.samples}, {"loss", report.loss}};
                for (const auto& spec : specs) out["specs"].push_back(spec.to_string());
                for (const auto& layer : report.layers) {
                    nlohmann::ordered_json row = {{"layer", layer.layer}, {"parameters", layer.parameters},
                                                  {"hessian_trace", {{"mean", layer.hutchinson.trace}, {"standard_error", layer.hutchinson.standard_error}, {"samples", layer.hutchinson.samples}}}};
                    if (layer.exact) row["hessian_trace"]["exact"] = *layer.exact;
                    for (std::size_t s = 0; s < specs.size(); ++s) row["omega"][specs[s].to_string()] = layer.omega[s];
                    out["layers"].push_back(row);
                }
                std::cout << out.dump(2) << "\n";
                return 0;
            }
            std::printf("%zu samples, loss %.6g\n%-24s %10s %14s %12s %6s", report.samples, report.loss, "LAYER", "PARAMS", "TRACE", "STD ERR", "N");
            if (options->exact) std::printf(" %14s", "EXACT");
            for (const auto& spec : specs) std::printf(" %18.18s", ("omega " + spec.to_string()).c_str());
            std::printf("\n");
            for (const auto& layer : report.layers) {
                std::printf("%-24.24s %10zu %14.6g %12.4g %6d", layer.layer.c_str(), layer.parameters, layer.hutchinson.trace, layer.hutchinson.standard_error, layer.hutchinson.samples);
                if (layer.exact) std::printf(" %14.6g", *layer.exact);
                for (double omega : layer.omega) std::printf(" %18.6g", omega);
                std::printf("\n");
            }
            return 0;
        });
    });
}

}  // namespace quantlens::cli
