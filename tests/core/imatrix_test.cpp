// Reading llama.cpp importance matrices: what llama-quantize computes from each format, the
// look-up by llama.cpp tensor name (GGUF names, Hugging Face names through llama_names), and
// bad files refused by name and byte offset.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "io/imatrix.hpp"
#include "model/model.hpp"
#include "quant/quantizer.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {

// A legacy .dat: entries (name, ncall, values), then chunk count and dataset.
std::string legacy_dat(
    const std::vector<std::tuple<std::string, std::int32_t, std::vector<float>>>& entries) {
    std::string out;
    put<std::int32_t>(out, static_cast<std::int32_t>(entries.size()));
    for (const auto& [name, ncall, values] : entries) {
        put<std::int32_t>(out, static_cast<std::int32_t>(name.size()));
        out += name;
        put<std::int32_t>(out, ncall);
        put<std::int32_t>(out, static_cast<std::int32_t>(values.size()));
        for (float v : values)
            put<float>(out, v);
    }
    put<std::int32_t>(out, 7);
    put<std::int32_t>(out, 4);
    return out + "wiki";
}

}  // namespace

TEST_CASE("a legacy .dat importance matrix gives llama-quantize's weights: the stored values over ncall") {
    ScratchDir dir;
    write_bytes(dir.file("m.dat"), legacy_dat({{"blk.0.attn_q.weight", 4, {8.0f, 2.0f, 0.0f}},
                                               {"output.weight", 0, {3.0f, 5.0f}}}));
    const auto m = read_importance_matrix(dir.file("m.dat"));
    CHECK(m.legacy);
    CHECK(m.chunk_count == 7);
    CHECK(m.datasets == std::vector<std::string>{"wiki"});
    CHECK(m.entries.at("blk.0.attn_q.weight").weights == std::vector<float>{2.0f, 0.5f, 0.0f});
    CHECK(m.entries.at("output.weight").weights == std::vector<float>{3.0f, 5.0f});  // ncall 0: as stored
}

TEST_CASE("a GGUF importance matrix round-trips, and an expert that saw no token weighs 1") {
    ScratchDir dir;
    ImportanceMatrix m;
    m.datasets = {"a.txt", "b.txt"};
    m.chunk_count = 3;
    m.chunk_size = 512;
    m.entries["blk.0.ffn_up.weight"] = {{4, 8, 6, 6}, {2, 0}, {}};
    write_importance_matrix(dir.file("m.gguf"), m);
    const auto back = read_importance_matrix(dir.file("m.gguf"));
    CHECK_FALSE(back.legacy);
    CHECK(back.datasets == m.datasets);
    CHECK(back.chunk_count == 3);
    CHECK(back.chunk_size == 512);
    const auto& e = back.entries.at("blk.0.ffn_up.weight");
    CHECK(e.counts == std::vector<std::int64_t>{2, 0});
    CHECK(e.weights == std::vector<float>{2, 4, 1, 1});
}

TEST_CASE("bad importance matrices are refused with the file and the place named") {
    ScratchDir dir;
    auto refused = [&](const std::string& bytes, const std::string& expected) {
        write_bytes(dir.file("bad.dat"), bytes);
        CHECK_THROWS_WITH(read_importance_matrix(dir.file("bad.dat")),
                          Catch::Contains("bad.dat") && Catch::Contains(expected));
    };
    std::string zero;
    put<std::int32_t>(zero, 0);
    refused(zero, "neither a GGUF nor a legacy .dat");
    const auto good = legacy_dat({{"blk.0.attn_q.weight", 1, {1.0f, 2.0f}}});
    refused(good.substr(0, 30), "bytes");  // truncated inside the values
    std::string huge_name;
    put<std::int32_t>(huge_name, 1);
    put<std::int32_t>(huge_name, 1 << 30);
    refused(huge_name, "name length at byte 4");
    std::string huge_count = good;
    const std::int32_t count = 1 << 28;
    std::memcpy(huge_count.data() + 4 + 4 + 19 + 4, &count, 4);
    refused(huge_count, "value count at byte 31");
    refused(legacy_dat({{"x", 1, {1.0f, std::numeric_limits<float>::infinity()}}}), "not finite");
    refused(legacy_dat({{"x", 1, {1.0f}}, {"x", 1, {2.0f}}}), "appears twice");
}

TEST_CASE("a model finds its layers' importance by llama.cpp name, and refuses one of another length") {
    ScratchDir dir;
    auto hf = Model::open(sample_path("tiny-llama"));  // hidden 64, intermediate 128
    auto matrix = std::make_shared<ImportanceMatrix>();
    matrix->path = "m.gguf";
    matrix->entries["blk.1.ffn_down.weight"] = {
        std::vector<float>(128, 2.0f), {1}, std::vector<float>(128, 2.0f)};
    matrix->entries["blk.0.attn_q.weight"] = {
        std::vector<float>(32, 1.0f), {1}, std::vector<float>(32, 1.0f)};
    hf.attach_importance(matrix);
    const auto& down = hf.layer("model.layers.1.mlp.down_proj");
    CHECK(hf.importance_name(down) == "blk.1.ffn_down.weight");
    CHECK(hf.importance(down).size() == 128);
    CHECK(hf.importance(hf.layer("model.layers.0.mlp.up_proj")).empty());  // no entry: none
    CHECK_THROWS_WITH(
        hf.importance(hf.layer("model.layers.0.self_attn.q_proj")),
        Catch::Contains("m.gguf") && Catch::Contains("holds 32 values") && Catch::Contains("rows hold 64"));
}

TEST_CASE("the importance-weighted error weighs each column's squared error by its importance") {
    const std::vector<float> w = {0.11f, -0.52f, 0.93f, 0.3f, -0.74f, 0.05f, 0.61f, -0.2f};
    const std::vector<float> importance = {4.0f, 0.0f, 1.0f, 0.5f};
    QuantOptions options;
    options.importance = importance;
    const auto r = quantize({w, 2, 4}, QuantSpec::parse("int4:channel:sym"), options);
    double expected = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
        const double e = static_cast<double>(r.dequantized[i]) - w[i];
        expected += importance[i % 4] * e * e;
    }
    CHECK(r.metrics.importance_mse == Approx(expected / 8));
    CHECK(std::isnan(quantize({w, 2, 4}, QuantSpec::parse("int4:channel:sym")).metrics.importance_mse));
    std::vector<float> wide(64, 0.25f);
    wide[3] = -1.0f;
    std::vector<float> wide_importance(32, 1.0f);
    options.importance = wide_importance;
    CHECK_THROWS_WITH(quantize({wide, 2, 32}, QuantSpec::parse("q4_0:rot=hadamard"), options),
                      Catch::Contains("mixes the input columns"));
}

TEST_CASE(
    "a matrix QuantLens writes for a model without llama.cpp names is found by the weights' own names") {
    // GPT-2 stores its Conv1D weights [in, out]: the importance runs over the inputs all the same.
    ScratchDir dir;
    auto model = Model::open(sample_path("tiny-gpt2"));
    const auto& fc = model.layer("transformer.h.0.mlp.c_fc");
    CHECK(model.llama_cpp_name(fc).empty());
    CHECK(model.importance_name(fc) == fc.weight);
    const auto weights = model.read_weights(fc);
    const auto columns = weights.shape.size() >= 2 ? weights.shape[1] : 0;
    ImportanceMatrix matrix;
    matrix.entries[fc.weight] = {std::vector<float>(static_cast<std::size_t>(columns), 3.0f), {1}, {}};
    write_importance_matrix(dir.file("m.gguf"), matrix);
    model.attach_importance(
        std::make_shared<const ImportanceMatrix>(read_importance_matrix(dir.file("m.gguf"))));
    CHECK(model.importance(fc).size() == static_cast<std::size_t>(columns));
    CHECK(model.importance(fc)[0] == 3.0f);
}
