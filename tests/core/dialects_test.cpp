#include <catch2/catch.hpp>

#include <cmath>
#include <regex>

#include "export/dialects.hpp"
#include "export_support.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

TEST_CASE("module patterns match their module and nothing else") {
    const auto pattern = python_exact_pattern("model.layers.1.mlp.up_proj");
    CHECK(pattern == R"(model\.layers\.1\.mlp\.up_proj$)");
    const std::regex re(pattern);  // Python's re.match anchors the start; ECMAScript agrees on these escapes
    CHECK(std::regex_search("model.layers.1.mlp.up_proj", re, std::regex_constants::match_continuous));
    CHECK_FALSE(std::regex_search("model.layers.1.mlp.up_proj_extra", re, std::regex_constants::match_continuous));
    CHECK_FALSE(std::regex_search("model.layers.11.mlp.up_proj", re, std::regex_constants::match_continuous));
    CHECK_FALSE(std::regex_search("modelXlayers.1.mlp.up_proj", re, std::regex_constants::match_continuous));
}

TEST_CASE("GPTQModel dialect: the common scheme as the base, exceptions as dynamic overrides, kept layers as negative matches") {
    const auto model = Model::open(sample_path("tiny-llama"));
    const auto plan = plan_for(model, "int4:g32:sym", {{"model.embed_tokens", "f16"}, {"lm_head", "f16"},
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
    CHECK(dynamic[R"(+:model\.layers\.0\.mlp\.down_proj$)"] == nlohmann::json({{"bits", 8}, {"group_size", -1}, {"sym", false}}));
    CHECK(dynamic[R"(+:model\.layers\.1\.self_attn\.q_proj$)"] == nlohmann::json({{"desc_act", true}}));
    CHECK(dynamic[R"(-:lm_head$)"] == nlohmann::json::object());

    const auto bad = plan_for(model, "int4:g48:sym", {{"model.embed_tokens", "int8:channel:sym"}, {"lm_head", "q4_0"}});
    CHECK_THROWS_WITH(gptqmodel_quantize_config(model, resolve_plan(bad, model, "p"), "q.json"),
                      Catch::Contains("model.embed_tokens: is a embedding layer; GPTQModel quantizes Linear modules only") &&
                          Catch::Contains("lm_head: q4_0 is not a GPTQ scheme") && Catch::Contains("group size 48 does not divide its 64 input columns"));
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
        REQUIRE(entries.size() == (spec.granularity == Granularity::Channel ? static_cast<std::size_t>(shown.rows) : 1u));
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
    CHECK_THROWS_WITH(aimet_encodings(model, resolve_plan(grouped, model, "p"), "e.json"), Catch::Contains("dense: int4:g16:asym has group scales"));
}
