// ONNX weights inside control flow (If branches, Loop bodies, nested), named by their path, and
// what cannot be read said rather than dropped: tests/data/onnx-subgraphs, written with Python's
// onnx package by samples/onnx_subgraph_samples.py with its values and layers in a golden JSON.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "io/open_model.hpp"
#include "model/inspection.hpp"
#include "model/model.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

using namespace quantlens;
using quantlens::test::data_path;

namespace {

nlohmann::json nested_golden() {
    std::ifstream in(data_path("onnx-subgraphs/nested.golden.json"));
    return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("ONNX weights in If branches and Loop bodies, nested, are read by path with their values") {
    const auto golden = nested_golden();
    const auto model = Model::open(data_path("onnx-subgraphs/nested.onnx"));
    const auto& file = model.file();
    REQUIRE(file.tensors().size() == golden["tensors"].size());
    for (const auto& [name, expected] : golden["tensors"].items()) {
        INFO(name);
        const auto& info = file.tensor(name);
        CHECK(dtype_name(info.dtype) == expected["dtype"].get<std::string>());
        CHECK(info.shape == expected["shape"].get<std::vector<std::int64_t>>());
        const auto values = file.read_f32(info);
        const auto want = expected["values"].get<std::vector<double>>();
        REQUIRE(values.values().size() == want.size());
        for (std::size_t i = 0; i < want.size(); ++i)
            CHECK(values.values()[i] == static_cast<float>(want[i]));  // read_f32: F64 rounds once
    }
}

TEST_CASE("every MatMul on a weight in any subgraph is a layer, and a weight two nodes share is one") {
    const auto golden = nested_golden();
    const auto model = Model::open(data_path("onnx-subgraphs/nested.onnx"));
    std::map<std::string, std::string> layers;
    for (const auto& layer : model.layers())
        layers[layer.name] = layer.weight;
    for (const auto& [name, weight] : golden["layers"].items()) {
        INFO(name);
        REQUIRE(layers.count(name));
        CHECK(layers[name] == weight.get<std::string>());
    }
    CHECK(!layers.count("gate/then_branch/mm_shared_then"));  // `shared` is mm_shared_else's
    const auto inspection = inspect_model(model, false);
    CHECK(inspection.parameters == 47);  // `shared` (6) once, though two branches read it
}

TEST_CASE("ONNX float8 (FN, FNUZ, E5M2) and packed 4-bit integers decode as onnx.proto defines them") {
    std::ifstream in(data_path("onnx-subgraphs/types.golden.json"));
    const auto golden = nlohmann::json::parse(in);
    const auto file = open_model_file(data_path("onnx-subgraphs/types.onnx"));
    REQUIRE(file->tensors().size() == golden.size());
    for (const auto& [name, expected] : golden.items()) {
        INFO(name);
        const auto& info = file->tensor(name);
        CHECK(dtype_name(info.dtype) == expected["dtype"].get<std::string>());
        const auto values = file->read_f32(info);
        REQUIRE(values.values().size() == expected["values"].size());
        for (std::size_t i = 0; i < values.values().size(); ++i) {
            INFO(i);
            const auto& want = expected["values"][i];
            const float got = values.values()[i];
            if (want.is_string() && want == "nan")
                CHECK(std::isnan(got));
            else if (want.is_string())
                CHECK(got == (want == "inf" ? INFINITY : -INFINITY));
            else
                CHECK(got == want.get<float>());
        }
    }
    CHECK(file->tensor("i4").byte_size == 8);  // 15 nibbles: the last byte half padding
}

TEST_CASE("what an ONNX file holds but cannot be read is listed with its size and reason, never dropped") {
    const auto golden = nested_golden();
    const auto model = Model::open(data_path("onnx-subgraphs/nested.onnx"));
    const auto& left_out = model.file().left_out();
    REQUIRE(left_out.size() == golden["left_out"].size());
    for (const auto& missing : left_out) {
        INFO(missing.name);
        REQUIRE(golden["left_out"].contains(missing.name));
        CHECK(missing.parameters == golden["left_out"][missing.name]["parameters"].get<std::uint64_t>());
        CHECK_THAT(missing.reason,
                   Catch::Contains(golden["left_out"][missing.name]["reason"].get<std::string>()));
    }
    const auto inspection = inspect_model(model, false);
    CHECK(inspection.left_out_parameters == 13);
    const auto json = to_json(inspection);
    CHECK(json["summary"]["left_out_tensors"] == 3);
    CHECK(json["summary"]["left_out_parameters"] == 13);
    CHECK(json["left_out"][0]["name"] == "text");
    CHECK_THAT(to_table(inspection), Catch::Contains("3 tensors (13 parameters) left out") &&
                                         Catch::Contains("gate/else_branch/Loop#2/body/cplx"));
    CHECK(left_out_summary(
              inspect_model(Model::open(quantlens::test::sample_path("digits-mlp-constants.onnx")), false)
                  .left_out)
              .empty());
}

TEST_CASE("subgraphs nested past protobuf's limit are refused with that reason, not a crash") {
    CHECK_THROWS_WITH(open_model_file(data_path("onnx-subgraphs/deep.onnx")),
                      Catch::Contains("deep.onnx") && Catch::Contains("nested deeper"));
}

TEST_CASE("the ONNX-only element types are not safetensors dtypes, read or written") {
    quantlens::test::ScratchDir dir;
    const auto path = dir.file("i4.safetensors");
    quantlens::test::write_bytes(
        path, quantlens::test::safetensors_bytes(R"({"w":{"dtype":"I4","shape":[2],"data_offsets":[0,1]}})",
                                                 std::string(1, '\x21')));
    CHECK_THROWS_WITH(open_model_file(path), Catch::Contains("unknown dtype \"I4\""));
}
