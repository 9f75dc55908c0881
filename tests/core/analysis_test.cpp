#include <catch2/catch.hpp>

#include <functional>

#include <filesystem>
#include <random>

#include "analysis/analysis.hpp"
#include "analysis/analysis_cache.hpp"
#include "io/gguf.hpp"
#include "io/json_limits.hpp"
#include "io/safetensors.hpp"
#include "model/model_identity.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;
namespace fs = std::filesystem;

namespace {

AnalysisOptions cached_options(const ScratchDir& scratch) {
    AnalysisOptions options;
    options.specs = {QuantSpec::parse("int4:g32:asym")};
    options.cache_dir = scratch.file("cache");
    return options;
}

void check_same(const AnalysisReport& a, const AnalysisReport& b) {
    REQUIRE(a.layers.size() == b.layers.size());
    for (std::size_t i = 0; i < a.layers.size(); ++i) {
        INFO(a.layers[i].layer);
        CHECK(a.layers[i].statistics.excess_kurtosis == b.layers[i].statistics.excess_kurtosis);
        CHECK(a.layers[i].statistics.histogram.counts == b.layers[i].statistics.histogram.counts);
        CHECK(a.layers[i].qsur->log10_qsur == b.layers[i].qsur->log10_qsur);
        CHECK(a.layers[i].quantization[0].metrics->mse == b.layers[i].quantization[0].metrics->mse);
        CHECK(a.layers[i].quantization[0].metrics->sqnr_db == b.layers[i].quantization[0].metrics->sqnr_db);
    }
}

}  // namespace

TEST_CASE("a second analysis of the same file comes from the cache and a changed file is analysed again") {
    ScratchDir scratch;
    const auto model_path = scratch.file("model.safetensors");
    fs::copy_file(sample_path("tiny-gpt2/model.safetensors"), model_path);
    const auto options = cached_options(scratch);
    const auto first = analyze_model(Model::open(model_path), options);
    CHECK(first.cached_layers == 0);
    const auto second = analyze_model(Model::open(model_path), options);
    CHECK(second.cached_layers == second.layers.size());
    check_same(first, second);

    SECTION("a new spec reuses the statistics and measures only the spec") {
        auto more = options;
        more.specs.push_back(QuantSpec::parse("q8_0"));
        const auto third = analyze_model(Model::open(model_path), more);
        CHECK(third.cached_layers == 0);  // each layer lacked q8_0
        CHECK(third.layers[0].quantization[1].metrics.has_value());
        CHECK(analyze_model(Model::open(model_path), more).cached_layers == third.layers.size());
        CHECK(analyze_model(Model::open(model_path), options).cached_layers ==
              third.layers.size());  // q8_0 kept beside int4
    }
    SECTION("a byte changed in the header region, with the modification time put back") {
        const auto mtime = fs::last_write_time(model_path);
        auto bytes = read_bytes(model_path);
        bytes[bytes.size() / 2] ^= 0x40;  // inside the first MiB of this small file
        write_bytes(model_path, bytes);
        fs::last_write_time(model_path, mtime);
        CHECK(analyze_model(Model::open(model_path), options).cached_layers == 0);
    }
    SECTION("a newer modification time on the same bytes changes nothing: entries follow content") {
        fs::last_write_time(model_path, fs::last_write_time(model_path) + std::chrono::seconds(5));
        CHECK(analyze_model(Model::open(model_path), options).cached_layers == first.layers.size());
    }
}

TEST_CASE(
    "a layer whose bytes changed beyond the first MiB is analysed again and the others come from the cache") {
    ScratchDir scratch;
    std::vector<float> big(640 * 512, 0.01f), small(64 * 64, 0.02f);  // small's bytes start past 1 MiB
    for (std::size_t i = 0; i < big.size(); ++i)
        big[i] = 0.001f * static_cast<float>(i % 97);
    for (std::size_t i = 0; i < small.size(); ++i)
        small[i] = 0.002f * static_cast<float>(i % 13);
    auto bytes_of = [](const std::vector<float>& v) {
        return std::span<const std::byte>(reinterpret_cast<const std::byte*>(v.data()), v.size() * 4);
    };
    const auto model_path = scratch.file("m.safetensors");
    auto write = [&] {
        fs::remove(model_path);  // the writer never replaces a file
        write_safetensors(model_path, {{"a.weight", DType::F32, {640, 512}, bytes_of(big)},
                                       {"b.weight", DType::F32, {64, 64}, bytes_of(small)}});
    };
    write();
    const auto options = cached_options(scratch);
    const auto first = analyze_model(Model::open(model_path), options);
    REQUIRE(first.layers.size() == 2);
    const auto mtime = fs::last_write_time(model_path);
    const auto identity = model_identity(model_path).description;  // name, size, mtime, first MiB
    small[100] = 32768.0f;  // same size, same header, same first MiB, same modification time
    write();
    fs::last_write_time(model_path, mtime);
    REQUIRE(model_identity(model_path).description == identity);  // what a key without content sees
    const auto second = analyze_model(Model::open(model_path), options);
    CHECK(second.cached_layers == 1);
    CHECK(second.layers[0].from_cache);
    CHECK_FALSE(second.layers[1].from_cache);
    CHECK(second.layers[1].statistics.absmax == 32768.0);  // the figures of the bytes as they are now
    CHECK(first.layers[1].statistics.absmax < 1.0);
}

TEST_CASE("a corrupt or tampered cache file is ignored and rebuilt") {
    ScratchDir scratch;
    const auto options = cached_options(scratch);
    const auto model_path = sample_path("digits-mlp.h5");
    const auto fresh = analyze_model(Model::open(model_path), options);
    const auto cache_file = AnalysisCache(options.cache_dir, model_path).file();
    REQUIRE(fs::exists(cache_file));

    SECTION("truncated") {
        const auto text = read_bytes(cache_file);
        write_bytes(cache_file, text.substr(0, text.size() / 2));
    }
    SECTION("a number changed, so the checksum disagrees") {
        auto json = parse_untrusted_json(read_bytes(cache_file), cache_file, "cache");
        json["payload"]["dense"]["statistics"]["excess_kurtosis"] = 123.0;
        write_bytes(cache_file, json.dump());
    }
    SECTION("valid JSON of another shape") {
        write_bytes(cache_file, R"({"schema": 7, "layers": []})");
    }
    SECTION("a field of the wrong type under a correct checksum") {
        auto json = parse_untrusted_json(read_bytes(cache_file), cache_file, "cache");
        json["payload"]["dense"]["statistics"]["count"] = "many";
        char checksum[17];
        std::uint64_t hash = 1469598103934665603ull;
        for (unsigned char c : json["payload"].dump())
            hash = (hash ^ c) * 1099511628211ull;
        std::snprintf(checksum, sizeof checksum, "%016llx", static_cast<unsigned long long>(hash));
        json["checksum"] = checksum;
        write_bytes(cache_file, json.dump());
    }
    // Edits under a recomputed checksum: the checksum is no security boundary, so the entry itself
    // must agree with the model (kind, shape, parameter count) and hold no negative count.
    auto tamper = [&](const std::function<void(nlohmann::json&)>& edit) {
        auto json = parse_untrusted_json(read_bytes(cache_file), cache_file, "cache");
        edit(json["payload"]["dense"]);
        std::uint64_t hash = 1469598103934665603ull;
        for (unsigned char c : json["payload"].dump())
            hash = (hash ^ c) * 1099511628211ull;
        char checksum[17];
        std::snprintf(checksum, sizeof checksum, "%016llx", static_cast<unsigned long long>(hash));
        json["checksum"] = checksum;
        write_bytes(cache_file, json.dump());
    };
    SECTION("another shape under a correct checksum") {
        tamper([](nlohmann::json& entry) { entry["shape"] = {7, 7}; });
    }
    SECTION("another parameter count under a correct checksum") {
        tamper([](nlohmann::json& entry) { entry["parameters"] = 49; });
    }
    SECTION("a negative size under a correct checksum") {
        tamper([](nlohmann::json& entry) {
            for (auto& [spec, outcome] : entry["specs"].items())
                outcome["size_bytes"] = -5;
        });
    }
    const auto rebuilt = analyze_model(Model::open(model_path), options);
    CHECK(rebuilt.cached_layers < rebuilt.layers.size());
    check_same(fresh, rebuilt);
    CHECK(analyze_model(Model::open(model_path), options).cached_layers ==
          rebuilt.layers.size());  // rewritten whole
}

TEST_CASE("an Analysis runs on a worker thread and analyses the layer asked for next") {
    auto model = std::make_shared<const Model>(Model::open(sample_path("tiny-gpt2")));
    AnalysisOptions options;
    options.use_cache = false;
    options.specs = {QuantSpec::parse("q8_0")};
    Analysis analysis(model, options);
    analysis.prioritize("transformer.h.1.mlp.c_proj");
    std::vector<std::string> order;
    const auto caller = std::this_thread::get_id();
    bool on_worker = true;
    analysis.start({}, [&](const LayerAnalysis& layer) {
        on_worker = on_worker && std::this_thread::get_id() != caller;
        order.push_back(layer.layer);
        if (order.size() == 1)
            analysis.prioritize("transformer.h.0.attn.c_proj");
    });
    const auto report = analysis.wait();
    CHECK(on_worker);
    REQUIRE(order.size() == 10);
    CHECK(order[0] == "transformer.h.1.mlp.c_proj");
    CHECK(order[1] == "transformer.h.0.attn.c_proj");
    CHECK(order[2] == "transformer.wte");
    CHECK(report.layers.front().layer == "transformer.wte");  // the report keeps the model's order
    CHECK(analysis.result("transformer.h.0.attn.c_proj")->quantization[0].metrics.has_value());
    CHECK_FALSE(analysis.result("no.such.layer").has_value());
}

TEST_CASE("a cancelled Analysis stops between layers and keeps what it finished in the cache") {
    ScratchDir scratch;
    auto model = std::make_shared<const Model>(Model::open(sample_path("tiny-gpt2")));
    const auto options = cached_options(scratch);
    {
        Analysis analysis(model, options);
        analysis.start({}, [&](const LayerAnalysis&) {
            if (analysis.layers_done() == 2)
                analysis.cancel();  // the third finished layer is in flight
        });
        CHECK_THROWS_AS(analysis.wait(), Cancelled);
        CHECK(analysis.layers_done() == 3);
    }
    CHECK(analyze_model(*model, options).cached_layers == 3);
    {
        Analysis dropped(model, options);  // destroyed while running: cancels and joins
        dropped.start();
    }
}

TEST_CASE("a layer that cannot be decoded is reported and the others are analysed") {
    ScratchDir dir;
    std::mt19937 rng(12);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<std::vector<float>> dense(3, std::vector<float>(8 * 64));
    for (auto& values : dense)
        for (auto& v : values)
            v = normal(rng);
    std::vector<std::byte> q8(2 * 8 * 34, std::byte{0});  // Q8_0 blocks, relabelled below
    auto bytes_of = [](const std::vector<float>& v) {
        return std::span<const std::byte>(reinterpret_cast<const std::byte*>(v.data()), v.size() * 4);
    };
    std::vector<TensorToWrite> tensors{{"blk.0.ffn_up.weight", DType::F32, {8, 64}, bytes_of(dense[0])},
                                       {"blk.0.ffn_down.weight", DType::Q8_0, {2, 256}, q8},
                                       {"blk.0.attn_q.weight", DType::F32, {8, 64}, bytes_of(dense[1])},
                                       {"blk.0.attn_k.weight", DType::F32, {8, 64}, bytes_of(dense[2])}};
    write_gguf(dir.file("mixed.gguf"), {gguf_string("general.architecture", "llama")}, tensors);
    // A ggml type from a newer llama.cpp: ffn_down's type id (Q8_0, 8) becomes 99.
    relabel_gguf_tensor_type(dir.file("mixed.gguf"), "blk.0.ffn_down.weight", 99);
    AnalysisOptions options;
    options.use_cache = false;
    options.specs = {QuantSpec::parse("q8_0")};
    const auto report = analyze_model(Model::open(dir.file("mixed.gguf")), options);
    REQUIRE(report.layers.size() == 4);
    std::size_t failed = 0;
    for (const auto& layer : report.layers) {
        if (layer.error.empty()) {
            CHECK(layer.statistics.count == 512);
            continue;
        }
        ++failed;
        CHECK(layer.layer == "blk.0.ffn_down");
        CHECK_THAT(layer.error, Catch::Contains("mixed.gguf") && Catch::Contains("ggml type 99"));
    }
    CHECK(failed == 1);
    CHECK(report.agreement.metrics.size() ==
          7);  // five statistics, QSUR, q8_0 — over the three analysed layers
    const auto json = to_json(report);
    CHECK(json["layers"][1]["error"].get<std::string>().find("ggml type 99") != std::string::npos);
    CHECK_THAT(to_table(report), Catch::Contains("blk.0.ffn_down: not analysed:"));
}
