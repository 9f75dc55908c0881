#include <cmath>
#include <cstdio>
#include <iostream>

#include "quant/calibration_inputs.hpp"
#include "cli_common.hpp"
#include "util/json_number.hpp"
#include "model/model.hpp"
#include "quant/quantizer.hpp"

namespace quantlens::cli {

namespace {
nlohmann::ordered_json metrics_json(const QuantMetrics& m) {
    nlohmann::ordered_json j;
    j["mse"] = json_number<nlohmann::ordered_json>(m.mse);
    j["rmse"] = json_number<nlohmann::ordered_json>(m.rmse);
    j["sqnr_db"] = json_number<nlohmann::ordered_json>(m.sqnr_db);
    j["cosine"] = json_number<nlohmann::ordered_json>(m.cosine);
    j["max_abs_error"] = json_number<nlohmann::ordered_json>(m.max_abs_error);
    j["bits_per_weight"] = json_number<nlohmann::ordered_json>(m.bits_per_weight);
    j["size_bytes"] = m.size_bytes;
    j["scales"] = m.scales;
    j["zero_points"] = m.zero_points;
    return j;
}
}  // namespace

nlohmann::ordered_json metrics_to_json(const QuantMetrics& m) {
    return metrics_json(m);
}

void add_quantize(CLI::App& app) {
    auto* command = app.add_subcommand("quantize", "Quantize one layer with a spec and report the error");
    struct Options {
        std::string model, layer, spec, calib, calib_tensor, imatrix;
        bool json = false;
    };
    auto options = std::make_shared<Options>();
    command->add_option("MODEL", options->model, "model file or Hugging Face folder")->required();
    command->add_option("--layer", options->layer, "layer name (as `inspect` lists it)")->required();
    command
        ->add_option("--spec", options->spec,
                     "quantizer spec, e.g. int4:g128:asym:clip=mse (see docs/quant-spec.md)")
        ->required();
    command->add_option("--calib", options->calib,
                        "the layer's inputs X [samples, in] (.npy/.npz/...) for round=gptq and smooth=");
    command->add_option("--calib-tensor", options->calib_tensor,
                        "tensor name inside --calib (default: the first 2-D tensor)");
    command->add_flag("--json", options->json, "print JSON");
    add_imatrix_option(command, options->imatrix);
    command->callback([options] {
        set_command([options] {
            auto spec = QuantSpec::parse(options->spec);
            auto model = open_model(options->model);
            attach_importance(model, options->imatrix);
            const auto& layer = model.layer(options->layer);
            auto weights = model.read_weights(layer);
            QuantOptions quant_options;
            quant_options.cancel = &interrupt_token();
            quant_options.importance = model.importance(layer);
            LoadedInputs inputs;
            if (!options->calib.empty()) {
                inputs = load_calibration_inputs(options->calib, options->calib_tensor);
                quant_options.inputs = &inputs.inputs;
            }
            auto result = quantize(as_matrix(weights.values(), weights.shape), spec, quant_options);
            if (options->json) {
                nlohmann::ordered_json out;
                out["schema"] = "quantlens.quantize/1";
                out["layer"] = layer.name;
                out["shape"] = weights.shape;
                out["spec"] = spec.to_string();
                out["metrics"] = metrics_json(result.metrics);
                out["error_histogram"] = {{"low", result.error_histogram.low},
                                          {"high", result.error_histogram.high},
                                          {"counts", result.error_histogram.counts}};
                std::cout << out.dump(2) << "\n";
                return 0;
            }
            const auto& m = result.metrics;
            std::printf("layer   %s %s\nspec    %s\n", layer.name.c_str(), shape_text(weights.shape).c_str(),
                        spec.to_string().c_str());
            std::printf("bits    %.4f bits/weight, %llu bytes (%llu scales, %llu zero points)\n",
                        m.bits_per_weight, static_cast<unsigned long long>(m.size_bytes),
                        static_cast<unsigned long long>(m.scales),
                        static_cast<unsigned long long>(m.zero_points));
            std::printf("error   MSE %.6g  RMSE %.6g  SQNR %.2f dB  cosine %.6f  max |error| %.6g\n", m.mse,
                        m.rmse, m.sqnr_db, m.cosine, m.max_abs_error);
            return 0;
        });
    });
}

}  // namespace quantlens::cli
