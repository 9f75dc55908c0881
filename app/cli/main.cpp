// quantlens-cli: the same core engine as the GUI, for scripts and batch jobs.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli_common.hpp"
#include "util/versions.hpp"
#include "util/error.hpp"

int main(int argc, char** argv) {
    CLI::App app{
        "QuantLens command line: inspect models, quantize layers, compare quantizers, analyse, allocate and "
        "export"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "quantlens-cli " + quantlens::quantlens_version());
    quantlens::cli::add_inspect(app);
    quantlens::cli::add_quantize(app);
    quantlens::cli::add_compare(app);
    quantlens::cli::add_analyze(app);
    quantlens::cli::add_allocate(app);
    quantlens::cli::add_export(app);
    quantlens::cli::add_sensitivity(app);
    quantlens::cli::add_imatrix(app);
    quantlens::cli::add_diff(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    return quantlens::cli::run_selected(app);
}
