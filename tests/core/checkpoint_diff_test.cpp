// `diff` pairs layers across formats and naming schemes: a Hugging Face llama folder against its
// F16 GGUF (llama.cpp names, q and k rows permuted), split q/k/v against a fused qkv_proj. MSE
// per pair equals NumPy's (samples/checkpoint_samples.py, diff_samples).
#include <catch2/catch.hpp>

#include <cstring>

#include "analysis/checkpoint_diff.hpp"
#include "model/model.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {

double golden_mse(const ModelFile& golden, const std::string& layer) {
    std::string key = "mse_" + layer;
    for (auto& c : key)
        if (c == '.')
            c = '_';
    const auto bytes = golden.read(golden.tensor(key));
    double value;
    std::memcpy(&value, bytes.bytes().data(), 8);
    return value;
}

}  // namespace

TEST_CASE("diff pairs a Hugging Face llama with its GGUF by llama.cpp names and q/k permutation") {
    const auto base = Model::open(sample_path("tiny-llama"));
    const auto other = Model::open(data_path("diff/tiny-llama-f16.gguf"));
    const auto golden = open_model_file(data_path("diff/tiny-llama-f16.golden.npz"));
    const auto diff = diff_models(base, other);
    CHECK(diff.only_in_base.empty());
    CHECK(diff.only_in_other.empty());
    REQUIRE(diff.layers.size() == base.layers().size());
    int permuted = 0;
    for (const auto& row : diff.layers) {
        INFO(row.layer << " ~ " << row.other_layer);
        REQUIRE(row.error.empty());
        CHECK(row.pairing.starts_with("llama.cpp name"));
        const double expected = golden_mse(*golden, row.layer + ".weight");
        if (expected == 0)
            CHECK(row.metrics.mse == 0);
        else
            CHECK(row.metrics.mse == Approx(expected).epsilon(1e-9));
        if (row.pairing.ends_with("q/k rows permuted"))
            ++permuted;
        // F16 keeps every weight within half a unit of its last place: SQNR far above 60 dB
        if (row.metrics.mse > 0)
            CHECK(row.metrics.sqnr_db > 60);
    }
    CHECK(permuted == 4);  // q and k of both blocks
    CHECK(diff.bits_per_weight > 15);
    CHECK(diff.bits_per_weight < 33);
}

TEST_CASE("diff without the permutation would see q and k as different weights") {
    // the same GGUF's q rows against the unpermuted Hugging Face rows: far apart
    const auto base = Model::open(sample_path("tiny-llama"));
    const auto other = Model::open(data_path("diff/tiny-llama-f16.gguf"));
    const auto a = base.read_weights(base.layer("model.layers.0.self_attn.q_proj"));
    const auto b = other.read_weights(other.layer("blk.0.attn_q"));
    CHECK(error_metrics(a.values(), b.values()).sqnr_db < 10);
}

TEST_CASE("diff pairs split q k v and gate up projections with fused ones") {
    const auto base = Model::open(sample_path("tiny-llama"));
    const auto other = Model::open(data_path("diff/tiny-llama-fused.safetensors"));
    const auto golden = open_model_file(data_path("diff/tiny-llama-fused.golden.npz"));
    const auto diff = diff_models(base, other);
    int fused = 0;
    for (const auto& row : diff.layers) {
        INFO(row.layer << " ~ " << row.other_layer);
        REQUIRE(row.error.empty());
        const bool is_fused = row.pairing.starts_with("fused");
        fused += is_fused;
        const std::string key = is_fused ? row.other_layer : row.layer;
        CHECK(row.metrics.mse == Approx(golden_mse(*golden, key)).epsilon(1e-9));
    }
    CHECK(fused == 4);
    CHECK(diff.layers.size() == 8);
    // the first fused row: q, k and v of block 0 against qkv_proj
    CHECK(diff.layers[0].layer ==
          "model.layers.0.self_attn.q_proj+model.layers.0.self_attn.k_proj+"
          "model.layers.0.self_attn.v_proj");
    CHECK(diff.layers[0].other_layer == "model.layers.0.self_attn.qkv_proj");
    CHECK(diff.layers[0].shape == std::vector<std::int64_t>{128, 64});
    CHECK(diff.only_in_other == std::vector<std::string>{"model.extra_head"});
    CHECK(diff.only_in_base.size() == 7);  // embedding, head, final norm and the four block norms
}

TEST_CASE("diff reports shapes that differ and writes JSON and CSV") {
    const auto base = Model::open(sample_path("tiny-llama"));
    const auto diff = diff_models(base, base);
    CHECK(diff.mse == 0);
    for (const auto& row : diff.layers)
        CHECK(row.metrics.mse == 0);
    const auto json = to_json(diff);
    CHECK(json["schema"] == kDiffSchema);
    CHECK(json["total"]["sqnr_db"].is_null());  // identical weights: no noise
    const auto csv = to_csv(diff);
    CHECK(csv.starts_with("layer,other_layer,pairing,stored,shape,bits_per_weight,mse"));
    CHECK(csv.find("(total),") != std::string::npos);
    CHECK(csv.find("\"[256, 64]\"") != std::string::npos);  // a shape's comma is quoted
}
