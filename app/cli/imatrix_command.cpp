#include <iostream>

#include "cli_common.hpp"
#include "io/imatrix.hpp"
#include "sensitivity/importance_capture.hpp"

namespace quantlens::cli {

void add_imatrix(CLI::App& app) {
    auto* command = app.add_subcommand(
        "imatrix",
        "Write a llama.cpp importance matrix (llama-imatrix's GGUF format) from QuantLens's engine: the sum "
        "of each input column's squared activation over the calibration data, per weight matrix");
    struct Options {
        std::string model, calib, out;
        std::size_t samples = 0;
        bool force = false;
    };
    auto options = std::make_shared<Options>();
    command
        ->add_option(
            "MODEL", options->model,
            "a model the engine runs: a Hugging Face llama or gpt2 folder, or a Keras .h5 classifier")
        ->required();
    command
        ->add_option("--calib", options->calib,
                     "calibration data: input_ids [samples, tokens] or a .txt file (bytes) for language "
                     "models, x [samples, ...] for classifiers")
        ->required();
    command->add_option("--samples", options->samples, "use the first N calibration samples (default all)");
    command->add_option("--out", options->out, "the .gguf to write (atomically; never an input)")->required();
    command->add_flag("--force", options->force, "replace --out if QuantLens wrote it");
    command->callback([options] {
        set_command([options] {
            const auto model = open_model(options->model);
            guard_cli_output(options->out, model, {options->calib}, options->force);
            const auto data = load_model_data(model, options->calib, options->samples);
            const auto matrix =
                capture_importance(model, data, stderr_progress("layers"), &interrupt_token());
            write_importance_matrix(options->out, matrix);
            std::cout << "wrote " << options->out << ": " << matrix.entries.size() << " weight matrices, "
                      << matrix.chunk_count << " samples\n";
            return 0;
        });
    });
}

}  // namespace quantlens::cli
