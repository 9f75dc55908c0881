#include <iostream>
#include <optional>

#include "alloc/checkpoint_plan.hpp"
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
        bool json = false, csv = false, vs_plan = false;
        std::vector<std::string> candidates;
    };
    auto options = std::make_shared<Options>();
    command->add_option("BASE", options->base, "the reference model (the float original)")->required();
    command->add_option("OTHER", options->other, "the model compared with it")->required();
    auto* json = command->add_flag("--json", options->json, "print the quantlens.diff/1 JSON (docs/diff.md)");
    command->add_flag("--csv", options->csv, "print one CSV row per layer, then the total")->excludes(json);
    auto* vs_plan = command->add_flag(
        "--vs-plan", options->vs_plan,
        "also plan the layers OTHER stores quantized from BASE's weights at exactly OTHER's size, and "
        "compare each layer and the total (docs/diff.md)");
    command
        ->add_option("--candidate", options->candidates,
                     "a spec the plan may give each layer (repeatable; default: OTHER's formats at 2-8 "
                     "bits, docs/diff.md)")
        ->needs(vs_plan);
    command->callback([options] {
        set_command([options] {
            const auto base = open_model(options->base);
            const auto other = open_model(options->other);
            const auto diff = diff_models(base, other, stderr_progress("layers"), &interrupt_token());
            std::optional<PlanAtSize> plan;
            if (options->vs_plan) {
                std::vector<QuantSpec> candidates;
                for (const auto& text : options->candidates)
                    candidates.push_back(QuantSpec::parse(text));
                plan = plan_at_checkpoint_size(base, other, diff, std::move(candidates),
                                               stderr_progress("plan"), &interrupt_token());
            }
            if (options->json) {
                auto out = to_json(diff);
                if (plan)
                    out["plan_at_same_size"] = to_json(*plan);
                std::cout << out.dump(2) << "\n";
            } else if (options->csv) {
                std::cout << (plan ? to_csv(*plan) : to_csv(diff));
            } else {
                std::cout << to_table(diff);
                if (plan)
                    std::cout << "\n" << to_table(*plan);
            }
            return 0;
        });
    });
}

}  // namespace quantlens::cli
