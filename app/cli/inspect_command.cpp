#include <iostream>

#include "cli_common.hpp"
#include "model/inspection.hpp"

namespace quantlens::cli {

void add_inspect(CLI::App& app) {
    auto* command = app.add_subcommand(
        "inspect", "List every layer and tensor: kind, dtype, shape, size and value statistics");
    struct Options {
        std::string model;
        bool json = false;
        bool no_stats = false;
    };
    auto options = std::make_shared<Options>();
    command->add_option("MODEL", options->model, "model file or Hugging Face folder")->required();
    command->add_flag("--json", options->json,
                      "print the quantlens.inspect/1 JSON schema (docs/inspect-json.md)");
    command->add_flag("--no-stats", options->no_stats, "list headers only; do not read tensor data");
    command->callback([options] {
        set_command([options] {
            auto model = open_model(options->model);
            auto inspection =
                inspect_model(model, !options->no_stats, stderr_progress("B"), &interrupt_token());
            if (options->json)
                std::cout << to_json(inspection).dump(2) << "\n";
            else
                std::cout << to_table(inspection);
            return 0;
        });
    });
}

}  // namespace quantlens::cli
