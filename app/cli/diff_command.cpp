#include <iostream>

#include "analysis/checkpoint_diff.hpp"
#include "cli_common.hpp"

namespace quantlens::cli {

void add_diff(CLI::App& app) {
    auto* command = app.add_subcommand(
        "diff",
        "Compare two versions of a model layer by layer: the other's weights against the base's "
        "(a float model against its quantized export or a quantized checkpoint)");
    struct Options {
        std::string base, other;
        bool json = false, csv = false;
    };
    auto options = std::make_shared<Options>();
    command->add_option("BASE", options->base, "the reference model (the float original)")->required();
    command->add_option("OTHER", options->other, "the model compared with it")->required();
    auto* json = command->add_flag("--json", options->json, "print the quantlens.diff/1 JSON (docs/diff.md)");
    command->add_flag("--csv", options->csv, "print one CSV row per layer, then the total")->excludes(json);
    command->callback([options] {
        set_command([options] {
            const auto base = open_model(options->base);
            const auto other = open_model(options->other);
            const auto diff = diff_models(base, other, stderr_progress("layers"), &interrupt_token());
            if (options->json)
                std::cout << to_json(diff).dump(2) << "\n";
            else if (options->csv)
                std::cout << to_csv(diff);
            else
                std::cout << to_table(diff);
            return 0;
        });
    });
}

}  // namespace quantlens::cli
