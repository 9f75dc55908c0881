#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>
#include <string_view>

#include "model/model.hpp"
#include "quant/quant_spec.hpp"
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
void add_imatrix(CLI::App& app);
void add_diff(CLI::App& app);
int run_selected(CLI::App& app);
void set_command(std::function<int()> command);

// Model::open, then a warning on stderr naming what the file holds but could not be read (the
// model is then smaller than the file), so no command reports on a silently smaller model.
Model open_model(const std::string& path);

// The token Ctrl-C sets, and a progress bar on stderr (only when stderr is a terminal,
// or when QUANTLENS_PROGRESS=1, so logs stay clean).
CancelToken& interrupt_token();

// Refuses, before any work, an output that is or holds an input or that exists (unless
// `force` and QuantLens wrote it): util/output_guard.hpp. `inputs` are the other paths the
// command reads besides the model's file or folder. Does nothing for an empty `out`.
void guard_cli_output(const std::string& out, const Model& model, std::vector<std::string> inputs,
                      bool force);
Progress stderr_progress(std::string_view unit);

// --imatrix FILE on a command that quantizes (quantize, compare, analyze, allocate, export).
void add_imatrix_option(CLI::App* command, std::string& path);
// Reads a llama.cpp importance matrix (GGUF or legacy .dat) and attaches it to the model, so its
// quantizers use it as llama-quantize does; says on stderr how many of the model's layers it
// covers. Does nothing for an empty path.
void attach_importance(Model& model, const std::string& path);

// A spec whose result on a layer was not finite (quant/comparison.hpp, SpecOutcome::failed).
struct FailedSpec {
    std::string layer;
    QuantSpec spec;
    std::string reason;
};
// Lists each failure on stderr and returns the exit code: 0 when there is none, else 3 (the
// figures printed are kept; those failed results are marked "error", never printed as numbers).
int report_failed_specs(const std::vector<FailedSpec>& failures);

}  // namespace quantlens::cli
