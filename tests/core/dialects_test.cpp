#include <catch2/catch.hpp>

#include <cmath>
#include <optional>
#include <regex>

#include "export/compressed_tensors.hpp"
#include "export/dialects.hpp"
#include "export_support.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {

nlohmann::ordered_json example(const std::string& name) {
    return nlohmann::ordered_json::parse(read_bytes(data_path("dialects/" + name)));
}

// How vLLM's gptq_utils.get_dynamic_override reads a GPTQModel config for one module: the first
// key that re.match-es the name wins; "-:" keys skip the module, the others override fields of
// the base config. Empty: not quantized.
std::optional<nlohmann::ordered_json> gptq_scheme_for(const nlohmann::ordered_json& config,
                                                      const std::string& module) {
    nlohmann::ordered_json scheme = {{"bits", config["bits"]},
                                     {"group_size", config["group_size"]},
                                     {"sym", config["sym"]},
                                     {"desc_act", config["desc_act"]}};
    for (const auto& [key, overrides] : config["dynamic"].items()) {
        const bool negative = key.rfind("-:", 0) == 0;
        const auto pattern = key.rfind("-:", 0) == 0 || key.rfind("+:", 0) == 0 ? key.substr(2) : key;
        if (!std::regex_search(module, std::regex(pattern), std::regex_constants::match_continuous))
            continue;
        if (negative)
            return std::nullopt;
        for (const auto& [field, value] : overrides.items())
            scheme[field] = value;
        return scheme;
    }
    return scheme;
}

// Every key of `reference` is in `ours` with a value of the same JSON type (null: any).
void check_same_fields(const nlohmann::ordered_json& ours, const nlohmann::ordered_json& reference) {
    for (const auto& [key, value] : reference.items()) {
        INFO(key);
        REQUIRE(ours.contains(key));
        if (!value.is_null() && !ours[key].is_null())
            CHECK(ours[key].type_name() == std::string(value.type_name()));
    }
}

}  // namespace

TEST_CASE("module patterns match their module and nothing else") {
    const auto pattern = python_exact_pattern("model.layers.1.mlp.up_proj");
    CHECK(pattern == R"(model\.layers\.1\.mlp\.up_proj$)");
    const std::regex re(pattern);  // Python's re.match anchors the start; ECMAScript agrees on these escapes
    CHECK(std::regex_search("model.layers.1.mlp.up_proj", re, std::regex_constants::match_continuous));
    CHECK_FALSE(
        std::regex_search("model.layers.1.mlp.up_proj_extra", re, std::regex_constants::match_continuous));
    CHECK_FALSE(std::regex_search("model.layers.11.mlp.up_proj", re, std::regex_constants::match_continuous));
    CHECK_FALSE(std::regex_search("modelXlayers.1.mlp.up_proj", re, std::regex_constants::match_continuous));
}

TEST_CASE(
    "GPTQModel dialect: the common scheme as the base, exceptions as dynamic overrides, kept layers as "
    "negative matches") {
    const auto model = Model::open(sample_path("tiny-llama"));
    const auto plan = plan_for(model, "int4:g32:sym",
                               {{"model.embed_tokens", "f16"},
                                {"lm_head", "f16"},
                                {"model.layers.0.mlp.down_proj", "int8:channel:asym"},
                                {"model.layers.1.self_attn.q_proj", "int4:g32:sym:round=gptq:actorder"}});
    const auto config = gptqmodel_quantize_config(model, resolve_plan(plan, model, "p"), "q.json");
    CHECK(config["bits"] == 4);
    CHECK(config["group_size"] == 32);
    CHECK(config["sym"] == true);
    CHECK(config["desc_act"] == false);
    CHECK(config["lm_head"] == false);
    CHECK(config["quant_method"] == "gptq");
    const auto& dynamic = config["dynamic"];
    CHECK(dynamic.size() == 3);
    // Compared as unordered JSON (GPTQModel reads these as dicts; clang also rejects mixing the two types).
    const auto as_json = [](const nlohmann::ordered_json& j) {
        return nlohmann::json::parse(j.dump());
    };
    CHECK(as_json(dynamic[R"(+:model\.layers\.0\.mlp\.down_proj$)"]) ==
          nlohmann::json({{"bits", 8}, {"group_size", -1}, {"sym", false}}));
    CHECK(as_json(dynamic[R"(+:model\.layers\.1\.self_attn\.q_proj$)"]) ==
          nlohmann::json({{"desc_act", true}}));
    CHECK(as_json(dynamic[R"(-:lm_head$)"]) == nlohmann::json::object());

    const auto bad =
        plan_for(model, "int4:g48:sym", {{"model.embed_tokens", "int8:channel:sym"}, {"lm_head", "q4_0"}});
    CHECK_THROWS_WITH(gptqmodel_quantize_config(model, resolve_plan(bad, model, "p"), "q.json"),
                      Catch::Contains("model.embed_tokens: is not a Linear layer (embedding); GPTQModel "
                                      "quantizes Linear modules only") &&
                          Catch::Contains("lm_head: q4_0 is not a GPTQ scheme") &&
                          Catch::Contains("group size 48 does not divide its 64 input columns"));
}

TEST_CASE("dialects read the way their tools read them, checked on the tools' own examples") {
    SECTION("GPTQModel: the resolver reproduces the example's documented meaning, then reads our file") {
        const auto reference = example("gptqmodel_dynamic_example.json");
        CHECK((*gptq_scheme_for(reference, "model.layers.1.self_attn.q_proj"))["bits"] == 8);
        CHECK((*gptq_scheme_for(reference, "model.layers.1.self_attn.q_proj"))["group_size"] == 32);
        CHECK((*gptq_scheme_for(reference, "model.layers.0.mlp.up_proj"))["bits"] == 4);
        CHECK_FALSE(gptq_scheme_for(reference, "model.layers.2.mlp.up_proj"));
        CHECK_FALSE(gptq_scheme_for(reference, "model.layers.10.mlp.up_proj"));

        const auto model = Model::open(sample_path("tiny-llama"));
        const auto plan = plan_for(model, "int4:g32:sym",
                                   {{"model.embed_tokens", "f16"},
                                    {"model.layers.1.mlp.up_proj", "f16"},
                                    {"model.layers.0.mlp.down_proj", "int8:channel:asym"},
                                    {"model.layers.1.self_attn.k_proj", "int3:g16:sym"}});
        const auto ours = gptqmodel_quantize_config(model, resolve_plan(plan, model, "p"), "q.json");
        for (const auto& key : {"bits", "group_size", "desc_act", "sym", "lm_head", "quant_method",
                                "checkpoint_format", "dynamic"}) {
            INFO(key);
            REQUIRE(ours.contains(key));
            CHECK(ours[key].type_name() == std::string(reference[key].type_name()));
        }
        for (const auto& layer : model.layers()) {
            if (layer.kind != LayerKind::Linear)
                continue;
            INFO(layer.name);
            const auto module = layer.weight.substr(0, layer.weight.size() - 7);
            const auto scheme = gptq_scheme_for(ours, module);
            if (layer.name == "model.layers.1.mlp.up_proj") {
                CHECK_FALSE(scheme);
            } else if (layer.name == "model.layers.0.mlp.down_proj") {
                CHECK(*scheme == nlohmann::ordered_json(
                                     {{"bits", 8}, {"group_size", -1}, {"sym", false}, {"desc_act", false}}));
            } else if (layer.name == "model.layers.1.self_attn.k_proj") {
                CHECK(*scheme == nlohmann::ordered_json(
                                     {{"bits", 3}, {"group_size", 16}, {"sym", true}, {"desc_act", false}}));
            } else {
                CHECK(*scheme == nlohmann::ordered_json(
                                     {{"bits", 4}, {"group_size", 32}, {"sym", true}, {"desc_act", false}}));
            }
        }
    }
    SECTION("compressed-tensors: our quantization_config has the example's fields, group by group") {
        const auto reference = example("compressed_tensors_config_example.json");
        const auto model = Model::open(sample_path("tiny-llama"));
        const auto ours = compressed_tensors_config(
            model,
            resolve_plan(plan_for(model, "int4:g32:sym", {{"model.embed_tokens", "f16"}, {"lm_head", "f16"}}),
                         model, "p"),
            "c.json");
        check_same_fields(ours, reference);
        CHECK(ours["ignore"] == reference["ignore"]);  // the head kept, as in the example
        REQUIRE(ours["config_groups"].size() == 1);
        const auto& group = ours["config_groups"]["group_0"];
        CHECK(group["targets"].size() == 14);
        const auto& reference_weights = reference["config_groups"]["group_0"]["weights"];
        // the same W4A16 scheme, field for field (in any order)
        CHECK(nlohmann::json::parse(group["weights"].dump()) ==
              nlohmann::json::parse(reference_weights.dump()));
    }
    SECTION("AIMET: our entries have exactly the example's fields and types") {
        const auto reference = example("aimet_encodings_example.json");
        const auto model = Model::open(sample_path("digits-mlp.h5"));
        const auto ours =
            aimet_encodings(model, resolve_plan(plan_for(model, "int8:channel:asym"), model, "p"), "e.json");
        CHECK(ours["version"] == reference["version"]);
        const auto& reference_entry = reference["param_encodings"]["conv1.weight"][0];
        for (const auto& [name, entries] : ours["param_encodings"].items()) {
            INFO(name);
            for (const auto& entry : entries) {
                CHECK(entry.size() == reference_entry.size());
                for (const auto& [key, value] : reference_entry.items()) {
                    INFO(key);
                    REQUIRE(entry.contains(key));
                    CHECK(entry[key].is_number() == value.is_number());
                    CHECK(entry[key].is_string() == value.is_string());
                }
            }
        }
    }
}

TEST_CASE("AIMET encodings hold each channel's grid: (q + offset)·scale gives the preview's values") {
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    const auto plan = plan_for(model, "int4:channel:asym", {{"dense_1", "int8:tensor:sym"}});
    const auto assignments = resolve_plan(plan, model, "p");
    const auto encodings = aimet_encodings(model, assignments, "e.json");
    CHECK(encodings["version"] == "0.6.1");
    for (const auto& [layer, spec] : assignments) {
        INFO(layer->name << " " << spec.to_string());
        const auto shown = preview(model, *layer, spec);
        const auto& entries = encodings["param_encodings"][layer->weight];
        REQUIRE(entries.size() ==
                (spec.granularity == Granularity::Channel ? static_cast<std::size_t>(shown.rows) : 1u));
        const std::int64_t top = (std::int64_t{1} << spec.bits) - 1;
        bool on_grid = true;
        for (std::int64_t r = 0; r < shown.rows; ++r) {
            const auto& entry = entries[entries.size() == 1 ? 0 : static_cast<std::size_t>(r)];
            CHECK(entry["bitwidth"] == spec.bits);
            CHECK(entry["is_symmetric"] == (spec.symmetric ? "True" : "False"));
            const auto scale = static_cast<float>(entry["scale"].get<double>());
            const auto offset = entry["offset"].get<std::int64_t>();
            CHECK(entry["min"].get<double>() == Approx(offset * static_cast<double>(scale)));
            for (std::int64_t c = 0; c < shown.cols; ++c) {
                const float x = shown.dequantized[static_cast<std::size_t>(r * shown.cols + c)];
                const auto q = static_cast<std::int64_t>(std::lround(x / scale)) - offset;
                on_grid = on_grid && q >= 0 && q <= top && static_cast<float>(q + offset) * scale == x;
            }
        }
        CHECK(on_grid);
    }
    const auto grouped = plan_for(model, "int4:g16:asym");
    CHECK_THROWS_WITH(aimet_encodings(model, resolve_plan(grouped, model, "p"), "e.json"),
                      Catch::Contains("dense: int4:g16:asym has group scales"));
}
