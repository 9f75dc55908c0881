#include <filesystem>
#include <iostream>

#include "alloc/plan.hpp"
#include "cli_common.hpp"
#include "export/compressed_tensors.hpp"
#include "export/dialects.hpp"
#include "export/fakequant_export.hpp"
#include "export/gguf_export.hpp"
#include "export/llama_quantize_types.hpp"
#include "util/atomic_file.hpp"

namespace quantlens::cli {

namespace {

void write_text(const std::string& path, const std::string& text) {
    AtomicFile out(path);
    out.write(text.data(), text.size());
    out.commit();
}

}  // namespace

void add_export(CLI::App& app) {
    auto* command = app.add_subcommand("export", "Write quantized weights as a plan says (or the plan in another tool's dialect)");
    struct Options { std::string model, config, format = "gguf", out; };
    auto options = std::make_shared<Options>();
    command->add_option("MODEL", options->model, "the model the plan was made for")->required();
    command->add_option("--config", options->config, "the plan (quantlens.plan/1, from `allocate --out` or written by hand)")->required();
    command->add_option("--format", options->format,
                        "weights: gguf (ggml types per tensor; GGUF or Hugging Face llama sources), fakequant (dequantized weights in the source's "
                        "format and dtype), safetensors-packed (compressed-tensors pack-quantized folder for vLLM / transformers). "
                        "Dialects of the plan: gptqmodel (quantize_config.json with dynamic overrides), compressed-tensors (its quantization_config), "
                        "aimet (param encodings), llama-tensor-types (llama-quantize --tensor-type-file)")
        ->check(CLI::IsMember({"gguf", "fakequant", "safetensors-packed", "gptqmodel", "compressed-tensors", "aimet", "llama-tensor-types"}));
    command->add_option("--out", options->out, "the file or folder to write (atomically; never the input)")->required();
    command->callback([options] {
        set_command([options] {
            const auto plan = load_plan(options->config);
            auto model = Model::open(options->model);
            const auto assignments = resolve_plan(plan, model, options->config);
            const auto& format = options->format;
            const auto& out = options->out;
            if (format == "gptqmodel" || format == "compressed-tensors" || format == "aimet" || format == "llama-tensor-types") {
                std::string text;
                if (format == "gptqmodel") text = gptqmodel_quantize_config(model, assignments, out).dump(2) + "\n";
                if (format == "compressed-tensors") text = compressed_tensors_config(model, assignments, out).dump(2) + "\n";
                if (format == "aimet") text = aimet_encodings(model, assignments, out, stderr_progress("layers"), &interrupt_token()).dump(2) + "\n";
                if (format == "llama-tensor-types") text = llama_quantize_tensor_types(model, assignments);
                write_text(out, text);
                std::cout << "wrote " << out << " (" << format << ", " << assignments.size() << " planned layers)\n";
                return 0;
            }
            ExportSummary summary;
            if (format == "gguf") summary = export_gguf(model, assignments, out, stderr_progress("B"), &interrupt_token());
            if (format == "fakequant") summary = export_fakequant(model, assignments, out, stderr_progress("B"), &interrupt_token());
            if (format == "safetensors-packed") summary = export_packed_safetensors(model, assignments, out, stderr_progress("B"), &interrupt_token());
            // The plan travels with the weights: inside a folder, beside a file.
            const auto plan_path = std::filesystem::is_directory(out) ? (std::filesystem::path(out) / "quantlens.plan.json").string() : out + ".plan.json";
            save_plan(plan, plan_path);
            std::cout << "wrote " << out << ": " << summary.tensors << " tensors (" << summary.quantized << " quantized), " << summary.bytes_out
                      << " bytes from " << summary.bytes_in << "; plan in " << plan_path << "\n";
            for (const auto& warning : summary.warnings) std::cout << "note: " << warning << "\n";
            return 0;
        });
    });
}

}  // namespace quantlens::cli
