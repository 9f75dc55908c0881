#include <iostream>

#include "cli_common.hpp"
#include "sensitivity/cost_estimate.hpp"
#include "sensitivity/sensitivity_import.hpp"
#include "sensitivity/sensitivity_report.hpp"

namespace quantlens::cli {

void add_sensitivity(CLI::App& app) {
    auto* command = app.add_subcommand("sensitivity",
                                       "Model-based sensitivity on labelled calibration data: Hessian traces "
                                       "and HAWQ's Omega, LRP contributions, the measured delta loss / KL / "
                                       "Fisher-Taylor score with one layer quantized, and the Tr(2X^TX)/N "
                                       "proxy, each predictor ranked against the measured delta loss");
    struct Options {
        std::string model, calib, metrics = "hessian,lrp,measured,proxy", rule = "epsilon", target = "label",
                                  cache_dir, import;
        std::vector<std::string> specs;
        std::size_t samples = 0;
        std::uint64_t seed = 0;
        int hutchinson_samples = HutchinsonOptions{}.max_samples;
        double hutchinson_tolerance = HutchinsonOptions{}.tolerance;
        double epsilon = 1e-6, gamma = 0.25;
        bool exact = false, json = false, float64 = false, no_cache = false, dry_run = false, joint = false;
    };
    auto options = std::make_shared<Options>();
    command
        ->add_option("MODEL", options->model,
                     "a Keras .h5 classifier (Sequential or Functional) or a Hugging Face decoder folder "
                     "(gpt2, llama, "
                     "mistral, qwen2, qwen3, gemma2, gemma3, phi3) or a GGUF of those families")
        ->required();
    auto* import = command->add_option(
        "--import", options->import,
        "a report made elsewhere (schema quantlens.sensitivity/2: another QuantLens, or a runner on other "
        "machines), checked against MODEL and shown as if computed here; no calibration run");
    command
        ->add_option(
            "--calib", options->calib,
            "calibration data: x [samples, features] or [samples, h, w, c] and integer y [samples] for "
            "classifiers; input_ids [samples, tokens] or a .txt file (bytes) for language models")
        ->excludes(import);
    command->add_option("--metrics", options->metrics,
                        "comma-separated: hessian, lrp, measured, proxy (default all)");
    command->add_option(
        "--spec", options->specs,
        "specs to measure and rate (repeatable; default int8:channel:sym and int4:channel:sym)");
    command->add_option("--samples", options->samples, "use the first N calibration samples (default all)");
    command->add_option("--seed", options->seed, "seed of the Hutchinson Rademacher vectors");
    command
        ->add_option(
            "--hutchinson-samples", options->hutchinson_samples,
            "the Hutchinson budget: at most N Rademacher vectors per layer (default 100, PyHessian's)")
        ->check(CLI::Range(2, 1000000));
    command
        ->add_option(
            "--hutchinson-tolerance", options->hutchinson_tolerance,
            "stop a layer's Hutchinson estimate once its running mean moves by less than this, relative "
            "(default 1e-3, PyHessian's; 0 runs every sample)")
        ->check(CLI::Range(0.0, 1.0));
    command->add_flag(
        "--hutchinson-joint", options->joint,
        "draw each Hutchinson vector over every parameter, so one Hessian-vector product gives a "
        "sample of every layer's trace (as many times fewer products as layers, noisier samples)");
    command->add_flag("--exact", options->exact,
                      "also the exact Hessian trace (one Hessian-vector product per parameter)");
    command->add_option("--lrp-rule", options->rule, "LRP rule for Dense and Conv layers")
        ->check(CLI::IsMember({"epsilon", "gamma", "zplus"}));
    command->add_option("--lrp-epsilon", options->epsilon, "LRP stabiliser epsilon");
    command->add_option("--lrp-gamma", options->gamma, "LRP-gamma's gamma");
    command
        ->add_option("--lrp-target", options->target,
                     "relevance of the label's logit or of the predicted class's")
        ->check(CLI::IsMember({"label", "predicted"}));
    command->add_flag("--float64", options->float64,
                      "measure the damage in float64 (default float32, as models run)");
    command->add_flag("--no-cache", options->no_cache, "neither read nor write the cache");
    command->add_option("--cache-dir", options->cache_dir,
                        "cache folder (default $QUANTLENS_CACHE_DIR or ~/.cache/quantlens)");
    command->add_flag("--json", options->json, "print JSON (schema quantlens.sensitivity/2)");
    command->add_flag("--dry-run", options->dry_run,
                      "print each metric's estimated time and peak memory on this machine, and stop");
    command->callback([options] {
        set_command([options] {
            SensitivityRequest request;
            set_metrics(request, options->metrics);
            for (const auto& text : options->specs)
                request.specs.push_back(QuantSpec::parse(text));
            if (request.specs.empty())
                request.specs = {QuantSpec::parse("int8:channel:sym"), QuantSpec::parse("int4:channel:sym")};
            request.hessian_options.hutchinson.seed = options->seed;
            request.hessian_options.hutchinson.max_samples = options->hutchinson_samples;
            request.hessian_options.hutchinson.tolerance = options->hutchinson_tolerance;
            request.hessian_options.hutchinson.joint = options->joint;
            request.hessian_options.exact = options->exact;
            request.lrp_options.rule = lrp_rule_from_name(options->rule);
            request.lrp_options.epsilon = options->epsilon;
            request.lrp_options.gamma = options->gamma;
            request.lrp_options.target =
                options->target == "predicted" ? LrpTarget::Predicted : LrpTarget::Label;
            request.float64 = options->float64;
            request.use_cache = !options->no_cache;
            request.cache_dir = options->cache_dir;
            const auto model = open_model(options->model);
            if (options->import.empty() && options->calib.empty())
                throw Error("", "--calib", "is needed (or --import with a report made elsewhere)");
            if (options->dry_run) {
                if (options->calib.empty())
                    throw Error("", "--dry-run", "estimates a run on --calib data; an --import has no cost");
                const auto data = load_model_data(model, options->calib, options->samples);
                const auto estimate = estimate_sensitivity_cost(model, data, request);
                std::cout << "estimated cost of the model metrics on " << data.x.rows() << " samples:\n"
                          << to_text(estimate);
                return 0;
            }
            request.on_estimate = [](const CostEstimate& estimate) {
                std::cerr << "estimated cost:\n" << to_text(estimate) << std::flush;
            };
            const auto report =
                !options->import.empty()
                    ? import_sensitivity_report(model, options->import)
                    : model_sensitivity(model, load_model_data(model, options->calib, options->samples),
                                        request, stderr_progress("steps"), &interrupt_token());
            if (options->json)
                std::cout << to_json(report).dump(2) << "\n";
            else
                std::cout << to_table(report);
            return 0;
        });
    });
}

}  // namespace quantlens::cli
