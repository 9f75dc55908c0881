#include "cli_common.hpp"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "export/export_common.hpp"
#include "io/imatrix.hpp"
#include "io/output_marker.hpp"
#include "model/inspection.hpp"
#include "util/error.hpp"
#include "util/temporary_path.hpp"

namespace quantlens::cli {

namespace {
std::function<int()> selected;
void on_interrupt(int) {
    interrupt_token().cancel();
}

void say_cleanup_notes() {
    for (const auto& note : take_cleanup_notes())
        std::cerr << "note: " << note << "\n";
}
}  // namespace

void set_command(std::function<int()> command) {
    selected = std::move(command);
}

CancelToken& interrupt_token() {
    static CancelToken token;
    return token;
}

void guard_cli_output(const std::string& out, const Model& model, std::vector<std::string> inputs,
                      bool force) {
    if (out.empty())
        return;
    std::erase(inputs, std::string());  // optional inputs not given
    inputs.push_back(model_input(model.file()));
    guard_output({out, OutputShape::File, std::move(inputs), force});
}

int run_selected(CLI::App&) {
    // SIGTERM (timeout, systemd, logout) and SIGHUP (a closed terminal) cancel like Ctrl-C:
    // the command stops at its next check and removes its temporaries.
    for (int signal : {SIGINT, SIGTERM, SIGHUP})
        std::signal(signal, on_interrupt);
    int code = 1;
    CancelScope reads(&interrupt_token());  // reads deep in the readers stop on Ctrl-C too
    try {
        code = selected ? selected() : 2;
    } catch (const Cancelled&) {
        std::cerr << "\ncancelled\n";
        code = 130;
    } catch (const Error& error) {
        std::cerr << "error: " << error.what() << "\n";
    } catch (const std::exception& error) {
        std::cerr << "error: " << error.what() << "\n";
    }
    say_cleanup_notes();
    return code;
}

int report_failed_specs(const std::vector<FailedSpec>& failures) {
    for (const auto& failure : failures)
        std::cerr << "error: " << failure.spec.to_string() << " on " << failure.layer << ": "
                  << failure.reason << "\n";
    if (failures.empty())
        return 0;
    std::cerr << failures.size() << (failures.size() == 1 ? " result" : " results")
              << " not finite: exit code 3\n";
    return 3;
}

void add_imatrix_option(CLI::App* command, std::string& path) {
    command->add_option("--imatrix", path,
                        "llama.cpp importance matrix (llama-imatrix's GGUF or legacy .dat, or QuantLens's "
                        "`imatrix`): the ggml types quantize with it as llama-quantize --imatrix does");
}

void attach_importance(Model& model, const std::string& path) {
    if (path.empty())
        return;
    auto matrix = std::make_shared<const ImportanceMatrix>(read_importance_matrix(path));
    model.attach_importance(matrix);
    std::size_t covered = 0, weights = 0;
    for (const auto& layer : model.layers()) {
        if (layer.weight.empty() || model.file().tensor(layer.weight).shape.size() < 2)
            continue;
        ++weights;
        covered += !model.importance(layer).empty();
    }
    std::cerr << "importance matrix " << path << ": " << matrix->entries.size() << " entries"
              << (matrix->legacy ? " (legacy .dat)" : "") << ", covering " << covered << " of the model's "
              << weights << " weight matrices\n";
}

Progress stderr_progress(std::string_view unit) {
    const char* forced = std::getenv("QUANTLENS_PROGRESS");
    bool enabled = forced ? std::string_view(forced) == "1" : ::isatty(STDERR_FILENO);
    if (!enabled)
        return {};
    auto start = std::chrono::steady_clock::now();
    return [start, unit = std::string(unit)](std::uint64_t done, std::uint64_t total, std::string_view what) {
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        double fraction = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
        int filled = static_cast<int>(fraction * 30);
        double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
        double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
        std::fprintf(stderr, "\r[%-30s] %5.1f%%  %.1f M%s/s  ETA %4.0fs  %-40.40s",
                     std::string(static_cast<std::size_t>(filled), '#').c_str(), 100 * fraction, rate / 1e6,
                     unit.c_str(), eta, std::string(what).c_str());
        if (done >= total)
            std::fprintf(stderr, "\n");
        std::fflush(stderr);
    };
}

Model open_model(const std::string& path) {
    auto model = Model::open(path);
    if (const auto missing = left_out_summary(model.file().left_out()); !missing.empty())
        std::fprintf(stderr, "warning: %s: %s\n", path.c_str(), missing.c_str());
    return model;
}

}  // namespace quantlens::cli
