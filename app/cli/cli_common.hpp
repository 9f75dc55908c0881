#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string_view>

#include "util/progress.hpp"

namespace quantlens::cli {

// One add_* per subcommand (one file each); each registers a callback that returns an
// exit code through run_selected.
void add_inspect(CLI::App& app);
void add_quantize(CLI::App& app);
void add_compare(CLI::App& app);
void add_analyze(CLI::App& app);
void add_allocate(CLI::App& app);
void add_export(CLI::App& app);
void add_sensitivity(CLI::App& app);
int run_selected(CLI::App& app);
void set_command(std::function<int()> command);

// The token Ctrl-C sets, and a progress bar on stderr (only when stderr is a terminal,
// or when QUANTLENS_PROGRESS=1, so logs stay clean).
CancelToken& interrupt_token();
Progress stderr_progress(std::string_view unit);

}  // namespace quantlens::cli
