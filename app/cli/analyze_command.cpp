#include <iostream>

#include "analysis/model_analysis.hpp"
#include "cli_common.hpp"
#include "util/atomic_file.hpp"

namespace quantlens::cli {

void add_analyze(CLI::App& app) {
    auto* command = app.add_subcommand(
        "analyze",
        "Per-layer weight statistics and quantization error for every linear, conv and embedding layer");
    struct Options {
        std::string model, out, first, imatrix;
        std::vector<std::string> specs;
        bool json = false, csv = false, no_qsur = false, no_cache = false, force = false, qsur_axes = false;
        double outlier_k = 3;
        std::int64_t qsur_max_width = AnalysisOptions{}.qsur_max_width;
        std::string cache_dir;
    };
    auto options = std::make_shared<Options>();
    command->add_option("MODEL", options->model, "model file or Hugging Face folder")->required();
    command->add_option("--spec", options->specs, "quantizer spec to measure on every layer (repeatable)");
    auto* json = command->add_flag("--json", options->json, "print the quantlens.analysis/1 JSON report");
    auto* csv = command->add_flag("--csv", options->csv, "print one CSV row per layer");
    json->excludes(csv);
    command->add_option("--out", options->out,
                        "write the report to this file (atomically) instead of standard output");
    command->add_flag(
        "--force", options->force,
        "replace --out if it is an earlier QuantLens JSON report (nothing else is ever replaced)");
    command->add_option("--outlier-k", options->outlier_k, "outliers are |w - mean| > k·std (default 3)")
        ->check(CLI::PositiveNumber);
    command->add_option("--first", options->first, "analyse this layer before the others");
    command
        ->add_option("--qsur-max-width", options->qsur_max_width,
                     "skip QSUR, with a note, on layers wider than this many inputs (its covariance costs "
                     "8·d² bytes and O(d³) time; default 8192)")
        ->check(CLI::PositiveNumber);
    command->add_flag("--no-qsur", options->no_qsur,
                      "skip QSUR (its covariance costs O(rows·d² + d³) per layer)");
    command->add_flag("--qsur-principal-axes", options->qsur_axes,
                      "also QSUR in the OSTQuant paper's own form (the cube spanned by the principal axes' "
                      "endpoints, beside the bounding-box form): needs the covariance's eigenvectors, about "
                      "9x the time of the default QSUR");
    auto* no_cache = command->add_flag("--no-cache", options->no_cache,
                                       "neither read nor write the on-disk analysis cache");
    command
        ->add_option(
            "--cache-dir", options->cache_dir,
            "cache folder (default $QUANTLENS_CACHE_DIR, $XDG_CACHE_HOME/quantlens or ~/.cache/quantlens)")
        ->excludes(no_cache);
    add_imatrix_option(command, options->imatrix);
    command->callback([options] {
        set_command([options] {
            AnalysisOptions analysis;
            for (const auto& text : options->specs)
                analysis.specs.push_back(QuantSpec::parse(text));
            analysis.statistics.outlier_k = options->outlier_k;
            analysis.first_layer = options->first;
            analysis.qsur = !options->no_qsur;
            analysis.qsur_max_width = options->qsur_max_width;
            analysis.qsur_options.principal_axes = options->qsur_axes;
            analysis.use_cache = !options->no_cache;
            analysis.cache_dir = options->cache_dir;
            auto model = open_model(options->model);
            guard_cli_output(options->out, model, {options->imatrix}, options->force);
            attach_importance(model, options->imatrix);
            if (!options->first.empty())
                model.layer(options->first);  // a clear error for an unknown name
            guard_cli_output(options->out, model, {}, options->force);
            // Progress in stored bytes, with the layer count beside the layer's name.
            Progress progress;
            if (auto bar = stderr_progress("B")) {
                const auto layers = quantizable_layers(model);
                std::uint64_t weights = 0, bytes = 0;
                for (const auto* layer : layers) {
                    const auto& info = model.file().tensor(layer->weight);
                    weights += info.elements();
                    bytes += info.byte_size;
                }
                const double bytes_per_weight =
                    weights ? static_cast<double>(bytes) / static_cast<double>(weights) : 0;
                progress = [bar, bytes_per_weight, count = layers.size(), started = std::size_t{0}](
                               std::uint64_t done, std::uint64_t total, std::string_view what) mutable {
                    if (!what.empty())
                        ++started;
                    const auto label = what.empty() ? std::string()
                                                    : "[" + std::to_string(started) + "/" +
                                                          std::to_string(count) + "] " + std::string(what);
                    bar(static_cast<std::uint64_t>(static_cast<double>(done) * bytes_per_weight),
                        static_cast<std::uint64_t>(static_cast<double>(total) * bytes_per_weight), label);
                };
            }
            auto report = analyze_model(model, analysis, progress, &interrupt_token());
            if (report.cached_layers)
                std::cerr << report.cached_layers << " of " << report.layers.size()
                          << " layers from the cache\n";
            std::string text = options->json  ? to_json(report).dump(2) + "\n"
                               : options->csv ? to_csv(report)
                                              : to_table(report);
            if (options->out.empty()) {
                std::cout << text;
            } else {
                AtomicFile out(options->out);  // replaces only what guard_cli_output approved
                out.write(text.data(), text.size());
                out.commit();
                std::cerr << "wrote " << options->out << " (" << report.layers.size() << " layers)\n";
            }
            std::vector<FailedSpec> failures;
            for (const auto& layer : report.layers)
                for (std::size_t k = 0; k < layer.quantization.size(); ++k)
                    if (layer.quantization[k].failed)
                        failures.push_back({layer.layer, report.specs[k], layer.quantization[k].error});
            return report_failed_specs(failures);
        });
    });
}

}  // namespace quantlens::cli
