#include <iostream>

#include "alloc/plan.hpp"
#include "cli_common.hpp"
#include "export/export_plan.hpp"

namespace quantlens::cli {

void add_export(CLI::App& app) {
    auto* command = app.add_subcommand(
        "export", "Write quantized weights as a plan says (or the plan in another tool's dialect)");
    struct Options {
        std::string model, config, format = "gguf", out, imatrix;
        bool force = false;
    };
    auto options = std::make_shared<Options>();
    command->add_option("MODEL", options->model, "the model the plan was made for")->required();
    command
        ->add_option("--config", options->config,
                     "the plan (quantlens.plan/1, from `allocate --out` or written by hand)")
        ->required();
    command
        ->add_option("--format", options->format,
                     "weights: gguf (ggml types per tensor; GGUF or Hugging Face llama sources), fakequant "
                     "(dequantized weights in the source's "
                     "format and dtype), safetensors-packed (compressed-tensors pack-quantized folder for "
                     "vLLM / transformers), onnx-qdq (an ONNX model with each planned weight behind "
                     "DequantizeLinear), onnx-matmulnbits (planned MatMul weights as onnxruntime's "
                     "MatMulNBits). "
                     "Dialects of the plan: gptqmodel (quantize_config.json with dynamic overrides), "
                     "compressed-tensors (its quantization_config), "
                     "aimet (param encodings), llama-tensor-types (llama-quantize --tensor-type-file)")
        ->check(CLI::IsMember(export_formats()));
    command->add_option("--out", options->out, "the file or folder to write (atomically; never the input)")
        ->required();
    command->add_flag("--force", options->force,
                      "replace --out if QuantLens wrote it (a marked GGUF, safetensors, folder or plan); "
                      "nothing else is ever replaced");
    add_imatrix_option(command, options->imatrix);
    command->callback([options] {
        set_command([options] {
            const auto plan = load_plan(options->config);
            auto model = open_model(options->model);
            attach_importance(model, options->imatrix);
            const auto outcome = export_plan(model, plan, options->config, options->format, options->out,
                                             stderr_progress("B"), &interrupt_token(), options->force);
            const auto& summary = outcome.summary;
            if (is_dialect(options->format)) {
                std::cout << "wrote " << options->out << " (" << options->format << ", " << summary.quantized
                          << " planned layers)\n";
                return 0;
            }
            std::cout << "wrote " << options->out << ": " << summary.tensors << " tensors ("
                      << summary.quantized << " quantized), " << summary.bytes_out << " bytes from "
                      << summary.bytes_in << "; plan in " << outcome.plan_path << "\n";
            for (const auto& warning : summary.warnings)
                std::cout << "note: " << warning << "\n";
            return 0;
        });
    });
}

}  // namespace quantlens::cli
