#include <iostream>

#include "alloc/plan.hpp"
#include "cli_common.hpp"
#include "export/gguf_export.hpp"

namespace quantlens::cli {

void add_export(CLI::App& app) {
    auto* command = app.add_subcommand("export", "Write quantized weights as a plan says, and the plan beside them");
    struct Options { std::string model, config, format = "gguf", out; };
    auto options = std::make_shared<Options>();
    command->add_option("MODEL", options->model, "the model the plan was made for")->required();
    command->add_option("--config", options->config, "the plan (quantlens.plan/1, from `allocate --out` or written by hand)")->required();
    command->add_option("--format", options->format, "gguf: ggml types per tensor, metadata and tokenizer carried over (GGUF sources)")
        ->check(CLI::IsMember({"gguf"}));
    command->add_option("--out", options->out, "the file to write (atomically; never the input)")->required();
    command->callback([options] {
        set_command([options] {
            const auto plan = load_plan(options->config);
            auto model = Model::open(options->model);
            const auto assignments = resolve_plan(plan, model, options->config);
            const auto summary = export_gguf(model, assignments, options->out, stderr_progress("B"), &interrupt_token());
            save_plan(plan, options->out + ".plan.json");  // the plan travels with the weights
            std::cout << "wrote " << options->out << ": " << summary.tensors << " tensors (" << summary.quantized << " quantized), " << summary.bytes_out
                      << " bytes from " << summary.bytes_in << "; plan in " << options->out << ".plan.json\n";
            return 0;
        });
    });
}

}  // namespace quantlens::cli
