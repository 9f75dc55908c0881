#include <catch2/catch.hpp>

#include <filesystem>
#include <optional>
#include <regex>
#include <sstream>

#include "alloc/plan.hpp"
#include "alloc/planning.hpp"
#include "export/llama_quantize_types.hpp"
#include "model/model_identity.hpp"
#include "plan_support.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

TEST_CASE("budgets parse as bits per weight or bytes and print back the same") {
    CHECK(Budget::parse("4.5bpw").kind == Budget::Kind::BitsPerWeight);
    CHECK(Budget::parse("4.5bpw").value == 4.5);
    CHECK(Budget::parse("2.1GB").value == 2.1e9);
    CHECK(Budget::parse("1.5GiB").value == 1.5 * 1073741824.0);
    CHECK(Budget::parse("800mb").value == 8e8);
    for (const char* text : {"4.5bpw", "3bpw", "2100000000B"})
        CHECK(Budget::parse(Budget::parse(text).to_string()).value == Budget::parse(text).value);
    CHECK_THROWS_WITH(Budget::parse("4.5"), Catch::Contains("budget \"4.5\""));
    CHECK_THROWS_WITH(Budget::parse("fast"), Catch::Contains("positive number"));
    CHECK_THROWS_WITH(Budget::parse("2PB"), Catch::Contains("unknown unit"));
    CHECK_THROWS(Budget::parse("100bpw"));
}

TEST_CASE("an allocation plan meets its budget, keeps pins and round-trips through its file") {
    const auto model = Model::open(sample_path("tiny-gpt2"));
    PlanRequest request;
    request.candidates = {QuantSpec::parse("int3:g64:asym"), QuantSpec::parse("int4:g64:asym"),
                          QuantSpec::parse("int8:channel:sym")};
    request.pins = {{"transformer\\.w[tp]e", QuantSpec::parse("int8:channel:sym")}};
    request.budget = Budget::parse("5.2bpw");
    const auto report = analysis_for(model, request);
    const auto result = plan_allocation(model, report, request);
    const auto& summary = *result.plan.summary;
    CHECK(summary.bits_per_weight <= 5.2);
    CHECK(summary.bits_per_weight > 4.9);  // the budget is used, not wasted
    CHECK(result.plan.layers.size() == report.layers.size());
    for (const auto& [name, spec] : result.plan.layers)
        if (name == "transformer.wte" || name == "transformer.wpe")
            CHECK(spec.to_string() == "int8:channel:sym");
    // the plan is the best the analysis allows: no frontier point within budget does better
    for (const auto& point : result.solver.frontier())
        if (point.cost_bits <= result.budget_bits)
            CHECK(point.damage >= result.chosen.damage - 1e-12);
    // a more generous budget never predicts more damage
    request.budget = Budget::parse("6.5bpw");
    CHECK(plan_allocation(model, report, request).chosen.damage <= result.chosen.damage);

    ScratchDir dir;
    save_plan(result.plan, dir.file("plan.json"));
    const auto loaded = load_plan(dir.file("plan.json"));
    CHECK(to_json(loaded).dump() == to_json(result.plan).dump());
    const auto assigned = resolve_plan(loaded, model, dir.file("plan.json"));
    REQUIRE(assigned.size() == result.plan.layers.size());
    CHECK(assigned[0].layer->name == result.plan.layers[0].first);
    CHECK(assigned[0].spec.to_string() == result.plan.layers[0].second.to_string());
}

TEST_CASE("a byte budget counts the tensors the plan leaves alone") {
    const auto model = Model::open(sample_path("tiny-gpt2"));
    PlanRequest request;
    request.candidates = {QuantSpec::parse("int4:g64:asym"), QuantSpec::parse("int8:channel:sym")};
    request.budget = Budget::parse("80000B");
    const auto report = analysis_for(model, request);
    const auto result = plan_allocation(model, report, request);
    CHECK(result.plan.summary->size_bytes <= 80000);
    CHECK(result.fixed_bytes > 0);  // norms and biases stay as they are
    request.budget = Budget::parse("1000B");
    CHECK_THROWS_WITH(plan_allocation(model, report, request),
                      Catch::Contains("too small") && Catch::Contains("bpw"));
}

TEST_CASE("plan files: malformed entries, unknown layers and another model are refused by name") {
    const auto model = Model::open(sample_path("tiny-gpt2"));
    const std::string identity = hex64(model_identity(model.file().path()).content);
    auto plan_text = [&](const std::string& layers, const std::string& extra = "") {
        return R"({"schema": "quantlens.plan/1", "model": {"path": "x", "identity": ")" + identity +
               R"("}, "layers": )" + layers + extra + "}";
    };
    CHECK_THROWS_WITH(parse_plan(R"({"schema": "other"})", "p.json"),
                      Catch::Contains("p.json") && Catch::Contains("schema"));
    CHECK_THROWS_WITH(parse_plan(plan_text(R"({"transformer.wte": "int0"})"), "p.json"),
                      Catch::Contains("layers.\"transformer.wte\""));
    CHECK_THROWS_WITH(
        parse_plan(plan_text("{}", R"(, "patterns": [{"match": "(", "spec": "q4_0"}])"), "p.json"),
        Catch::Contains("patterns[0].match"));
    CHECK_THROWS_WITH(parse_plan(plan_text("{}", R"(, "budget": "lots")"), "p.json"),
                      Catch::Contains("p.json: budget"));
    CHECK_THROWS_WITH(parse_plan("{\"schema\": ", "p.json"), Catch::Contains("p.json"));
    // a count that is a float too large for any integer is refused, not converted
    CHECK_THROWS_WITH(parse_plan(plan_text("{}", R"(, "summary": {"parameters": 7.5e64, "size_bytes": 1,
                   "bits_per_weight": 4, "predicted_damage": 0})"),
                                 "p.json"),
                      Catch::Contains("p.json: summary") && Catch::Contains("integers"));

    const auto unknown = parse_plan(plan_text(R"({"transformer.h.9.mlp.c_fc": "q8_0"})"), "p.json");
    CHECK_THROWS_WITH(resolve_plan(unknown, model, "p.json"),
                      Catch::Contains("layers.\"transformer.h.9.mlp.c_fc\"") && Catch::Contains("no layer"));
    const auto norm = parse_plan(plan_text(R"({"transformer.ln_f": "q8_0"})"), "p.json");
    CHECK_THROWS_WITH(resolve_plan(norm, model, "p.json"), Catch::Contains("norm layer"));
    const auto other = Model::open(sample_path("digits-mlp.h5"));
    CHECK_THROWS_WITH(resolve_plan(unknown, other, "p.json"),
                      Catch::Contains("model.identity") && Catch::Contains("digits-mlp.h5"));

    // exact names first, then the first matching pattern, then the default
    const auto mixed = parse_plan(
        plan_text(
            R"({"transformer.h.0.mlp.c_fc": "int8:channel:sym"})",
            R"(, "patterns": [{"match": ".*mlp.*", "spec": "q4_0"}, {"match": ".*", "spec": "q8_0"}], "default_spec": "int4:g32:sym")"),
        "p.json");
    for (const auto& [layer, spec] : resolve_plan(mixed, model, "p.json")) {
        INFO(layer->name);
        if (layer->name == "transformer.h.0.mlp.c_fc")
            CHECK(spec.to_string() == "int8:channel:sym");
        else if (layer->name.find("mlp") != std::string::npos)
            CHECK(spec.to_string() == "q4_0");
        else
            CHECK(spec.to_string() == "q8_0");
    }
}

TEST_CASE("a copy of the model elsewhere takes the same plan") {
    ScratchDir dir;
    std::filesystem::copy(sample_path("tiny-gpt2"), dir.file("copy"));
    const auto original = Model::open(sample_path("tiny-gpt2"));
    const auto copy = Model::open(dir.file("copy"));
    CHECK(model_identity(original.file().path()).content == model_identity(copy.file().path()).content);
}

TEST_CASE("a plan in llama-quantize's tensor-type file names each tensor once with a ggml type") {
    const auto model = Model::open(sample_path("tiny-gpt2.gguf"));
    QuantPlan plan;
    plan.model_identity = hex64(model_identity(model.file().path()).content);
    plan.default_spec = QuantSpec::parse("q4_0");
    plan.layers = {{"token_embd", QuantSpec::parse("q8_0")}};
    const auto assignments = resolve_plan(plan, model, "p.json");
    const auto text = llama_quantize_tensor_types(model, assignments);
    // Read it as llama-quantize does: whitespace-separated PATTERN=TYPE, the pattern searched
    // in the lowercased tensor name, the first match winning.
    std::istringstream entries(text);
    std::vector<std::pair<std::regex, std::string>> rules;
    for (std::string entry; entries >> entry;) {
        const auto equals = entry.find('=');
        REQUIRE(equals != std::string::npos);
        rules.emplace_back(std::regex(entry.substr(0, equals)), entry.substr(equals + 1));
    }
    REQUIRE(rules.size() == assignments.size());
    for (const auto& tensor : model.file().tensors()) {
        std::optional<std::string> type;
        for (const auto& [pattern, name] : rules)
            if (!type && std::regex_search(tensor.name, pattern))
                type = name;
        std::optional<std::string> expected;
        for (const auto& [layer, spec] : assignments)
            if (layer->weight == tensor.name)
                expected = spec.to_string();
        INFO(tensor.name);
        CHECK(type == expected);  // biases, norms and other tensors match no entry
    }
    CHECK(text.find("^token_embd\\.weight$=q8_0") != std::string::npos);

    plan.default_spec = QuantSpec::parse("int4:g32:asym");
    CHECK_THROWS_WITH(llama_quantize_tensor_types(model, resolve_plan(plan, model, "p.json")),
                      Catch::Contains("blk.0.ffn_up: int4:g32:asym is not a ggml type"));
    const auto hf = Model::open(sample_path("tiny-gpt2"));
    CHECK_THROWS_WITH(llama_quantize_tensor_types(hf, {}), Catch::Contains("convert_hf_to_gguf"));
}

TEST_CASE("tied fused projections take one spec per block, at the best plan that constraint allows") {
    CHECK(fused_group("model.layers.3.self_attn.k_proj") == "model.layers.3.self_attn.qkv_proj");
    CHECK(fused_group("model.layers.3.mlp.up_proj") == "model.layers.3.mlp.gate_up_proj");
    CHECK(fused_group("model.layers.3.mlp.down_proj") == "model.layers.3.mlp.down_proj");
    CHECK(fused_group("lm_head") == "lm_head");

    const auto model = Model::open(sample_path("tiny-llama"));
    PlanRequest request;
    request.candidates = {QuantSpec::parse("int4:g32:asym"), QuantSpec::parse("int8:channel:sym")};
    request.kind_candidates[LayerKind::Embedding] = {QuantSpec::parse("f16")};
    request.budget = Budget::parse("7.5bpw");
    const auto report = analysis_for(model, request);
    const auto free = plan_allocation(model, report, request);
    request.tie_fused = true;
    const auto tied = plan_allocation(model, report, request);
    std::map<std::string, std::string> spec_of_group;
    for (const auto& [layer, spec] : tied.plan.layers) {
        const auto group = fused_group(layer);
        if (group == layer)
            continue;
        const auto [found, added] = spec_of_group.emplace(group, spec.to_string());
        CHECK(found->second == spec.to_string());  // every member of a group shares its spec
    }
    CHECK(spec_of_group.size() == 4);  // qkv and gate_up of two blocks
    CHECK(tied.plan.summary->bits_per_weight <= 7.5);
    CHECK(tied.plan.summary->predicted_damage >=
          free.plan.summary->predicted_damage - 1e-12);  // a constraint never helps
    // the per-layer choices add up to the plan
    double damage = 0;
    for (const auto& choice : tied.layer_choices)
        damage += choice.damage;
    CHECK(damage == Approx(tied.plan.summary->predicted_damage));

    request.pins = {{".*0\\.self_attn\\.q_proj", QuantSpec::parse("int4:g32:asym")},
                    {".*0\\.self_attn\\.k_proj", QuantSpec::parse("int8:channel:sym")}};
    CHECK_THROWS_WITH(plan_allocation(model, report, request),
                      Catch::Contains("model.layers.0.self_attn.k_proj") &&
                          Catch::Contains("shares no candidate spec with the layers it is fused with"));
}

TEST_CASE("HAWQ allocation: each candidate's damage is HAWQ-V2's Omega from the layer's Hessian trace") {
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    PlanRequest request;
    request.candidates = {QuantSpec::parse("int4:channel:asym"), QuantSpec::parse("int8:channel:sym")};
    request.budget = Budget::parse("6bpw");
    request.metric = DamageMetric::Hawq;
    const auto report = analysis_for(model, request);
    CHECK_THROWS_WITH(plan_allocation(model, report, request),
                      Catch::Contains("layer \"dense\": has no Hessian trace for --metric hawq"));
    request.hessian_traces = {{"dense", {4.0, 2080}}, {"dense_1", {50.0, 330}}};
    const auto result = plan_allocation(model, report, request);
    CHECK(result.plan.metric == "hawq");
    for (std::size_t l = 0; l < report.layers.size(); ++l) {
        const auto& analysed = report.layers[l];
        const auto& [trace, n] = request.hessian_traces[analysed.layer];
        std::size_t k = 0;
        while (report.specs[k].to_string() != result.layer_choices[l].spec)
            ++k;
        const double squared_error =
            analysed.quantization[k].metrics->mse * static_cast<double>(analysed.parameters);
        CHECK(result.layer_choices[l].damage == Approx(trace / static_cast<double>(n) * squared_error));
    }
    // the layer with the larger trace per parameter gets the wider spec
    CHECK(result.plan.layers[1].second.to_string() == "int8:channel:sym");
}

TEST_CASE(
    "Fisher-Taylor allocation: each candidate's damage is the layer's Fisher-Taylor estimate, floored at 0") {
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    PlanRequest request;
    request.candidates = {QuantSpec::parse("int4:channel:asym"), QuantSpec::parse("int8:channel:sym")};
    request.budget = Budget::parse("6bpw");
    request.metric = parse_damage_metric("fisher");
    const auto report = analysis_for(model, request);
    CHECK_THROWS_WITH(plan_allocation(model, report, request),
                      Catch::Contains("has no Fisher-Taylor estimate for"));
    // dense_1 is the sensitive one by these figures; a negative estimate counts as no damage
    request.fisher_damage = {{"dense", {{"int4:channel:asym", 0.01}, {"int8:channel:sym", -0.001}}},
                             {"dense_1", {{"int4:channel:asym", 0.5}, {"int8:channel:sym", 0.002}}}};
    const auto result = plan_allocation(model, report, request);
    CHECK(result.plan.metric == "fisher");
    for (std::size_t l = 0; l < report.layers.size(); ++l)
        CHECK(result.layer_choices[l].damage ==
              std::max(0.0, request.fisher_damage[report.layers[l].layer][result.layer_choices[l].spec]));
    CHECK(result.plan.layers[1].second.to_string() == "int8:channel:sym");
    // the measured delta loss is a different table: the Fisher one is not used for it
    request.metric = DamageMetric::Measured;
    CHECK_THROWS_WITH(plan_allocation(model, report, request), Catch::Contains("has no measured delta loss"));
}

TEST_CASE(
    "LRP allocation: each candidate's damage is the layer's contribution times the share of its weights' "
    "energy the spec loses") {
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    PlanRequest request;
    request.candidates = {QuantSpec::parse("int4:channel:asym"), QuantSpec::parse("int8:channel:sym")};
    request.budget = Budget::parse("6bpw");
    request.metric = parse_damage_metric("lrp");
    const auto report = analysis_for(model, request);
    CHECK_THROWS_WITH(plan_allocation(model, report, request),
                      Catch::Contains("layer \"dense\": has no LRP contribution for --metric lrp"));
    request.lrp_contributions = {{"dense", 0.1}, {"dense_1", 0.9}};
    const auto result = plan_allocation(model, report, request);
    CHECK(result.plan.metric == "lrp");
    for (std::size_t l = 0; l < report.layers.size(); ++l) {
        const auto& analysed = report.layers[l];
        const auto weights = model.read_weights(model.layer(analysed.layer));
        double energy = 0;  // ‖W‖², summed here from the weights themselves
        for (float w : weights.values())
            energy += static_cast<double>(w) * w;
        std::size_t k = 0;
        while (report.specs[k].to_string() != result.layer_choices[l].spec)
            ++k;
        const double squared_error =
            analysed.quantization[k].metrics->mse * static_cast<double>(analysed.parameters);
        CHECK(result.layer_choices[l].damage ==
              Approx(request.lrp_contributions[analysed.layer] * squared_error / energy).epsilon(1e-9));
    }
    // the layer carrying most of the relevance gets the wider spec
    CHECK(result.plan.layers[1].second.to_string() == "int8:channel:sym");
    // a pinned layer needs no contribution: it has one choice
    request.lrp_contributions.erase("dense");
    request.pins = {{"dense", QuantSpec::parse("int4:channel:asym")}};
    CHECK(plan_allocation(model, report, request).plan.layers[0].second.to_string() == "int4:channel:asym");
}
