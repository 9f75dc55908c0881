// diff speed (issue 19 target): an F16 model of 256 MiB and of 1 GiB (4096×4096 layers) against
// the same model packed to 4 bits, two ways: a GPTQ checkpoint (4-bit, group 128, format v1,
// random codes: the reader's work does not depend on them) beside F16 safetensors, and a Q4_0
// GGUF (exported by QuantLens) beside its F16 GGUF. Each diff runs in a forked child for its own
// peak RSS. Reported as GB/s of input (both files' bytes) beside the same run's F16 → F32 decode
// of 64 MiB; target ≥ 0.5 GB/s of input on 2 threads, RSS independent of model size.
// Usage: bench_diff [scratch folder]

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "alloc/plan.hpp"
#include "analysis/checkpoint_diff.hpp"
#include "bench_support.hpp"
#include "export/gguf_export.hpp"
#include "io/gguf.hpp"
#include "io/safetensors.hpp"
#include "model/model_identity.hpp"
#include "tensor/convert.hpp"
#include "util/parallel.hpp"

using namespace quantlens;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kSide = 4096, kGroup = 128;

std::vector<std::uint16_t> f16_layer() {
    std::mt19937 rng(3);
    std::student_t_distribution<float> t(4);
    std::vector<std::uint16_t> half(static_cast<std::size_t>(kSide * kSide));
    for (auto& h : half)
        h = f32_to_f16(0.02f * t(rng));
    return half;
}

std::span<const std::byte> bytes_of(const auto& values) {
    return std::as_bytes(std::span(values));
}

void write_f16_safetensors(const std::string& path, int layers, const std::vector<std::uint16_t>& half) {
    std::vector<TensorDeclaration> declared;
    for (int i = 0; i < layers; ++i)
        declared.push_back(
            {"model.layers." + std::to_string(i) + ".mlp.up_proj.weight", DType::F16, {kSide, kSide}});
    SafetensorsStreamWriter writer(path, declared);
    for (int i = 0; i < layers; ++i)
        writer.write_tensor(bytes_of(half));
    writer.commit();
}

// A GPTQ folder: per layer qweight I32 [K/8, N], qzeros I32 [K/128, N/8], scales F16 [K/128, N].
void write_gptq_folder(const std::string& folder, int layers) {
    fs::create_directories(folder);
    std::ofstream(folder + "/config.json")
        << R"({"model_type": "llama", "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128}})";
    std::mt19937 rng(9);
    std::vector<std::int32_t> qweight(static_cast<std::size_t>(kSide / 8 * kSide));
    for (auto& word : qweight)
        word = static_cast<std::int32_t>(rng());
    const std::vector<std::int32_t> qzeros(static_cast<std::size_t>(kSide / kGroup * kSide / 8), 0x77777777);
    const std::vector<std::uint16_t> scales(static_cast<std::size_t>(kSide / kGroup * kSide),
                                            f32_to_f16(0.004f));
    std::vector<TensorDeclaration> declared;
    for (int i = 0; i < layers; ++i) {
        const auto module = "model.layers." + std::to_string(i) + ".mlp.up_proj";
        declared.push_back({module + ".qweight", DType::I32, {kSide / 8, kSide}});
        declared.push_back({module + ".qzeros", DType::I32, {kSide / kGroup, kSide / 8}});
        declared.push_back({module + ".scales", DType::F16, {kSide / kGroup, kSide}});
    }
    SafetensorsStreamWriter writer(folder + "/model.safetensors", declared);
    for (int i = 0; i < layers; ++i) {
        writer.write_tensor(bytes_of(qweight));
        writer.write_tensor(bytes_of(qzeros));
        writer.write_tensor(bytes_of(scales));
    }
    writer.commit();
}

void write_f16_gguf(const std::string& path, int layers, const std::vector<std::uint16_t>& half) {
    std::vector<GgufTensorDeclaration> declared;
    for (int i = 0; i < layers; ++i)
        declared.push_back({"blk." + std::to_string(i) + ".ffn_up.weight", DType::F16, {kSide, kSide}});
    GgufStreamWriter writer(path, {gguf_string("general.architecture", "llama")}, declared);
    for (int i = 0; i < layers; ++i)
        writer.write_tensor(bytes_of(half));
    writer.commit();
}

std::uint64_t size_of(const std::string& path) {
    if (fs::is_regular_file(path))
        return fs::file_size(path);
    std::uint64_t total = 0;
    for (const auto& entry : fs::directory_iterator(path))
        total += entry.file_size();
    return total;
}

void measure(const std::string& base, const std::string& other, double gib, const char* what) {
    const std::string line = bench::in_child([&] {
        const auto a = Model::open(base);
        const auto b = Model::open(other);
        const auto start = std::chrono::steady_clock::now();
        const auto diff = diff_models(a, b);
        char text[160];
        std::snprintf(text, sizeof text, "%.4f %.1f %zu %.3f", bench::seconds_since(start),
                      bench::peak_rss_mib(), diff.layers.size(), diff.sqnr_db);
        return std::string(text);
    });
    double seconds = 0, rss = 0, sqnr = 0;
    std::size_t layers = 0;
    std::sscanf(line.c_str(), "%lf %lf %zu %lf", &seconds, &rss, &layers, &sqnr);
    const double input = static_cast<double>(size_of(base) + size_of(other));
    std::printf(
        "diff %.2f GiB F16 vs %-18s %zu layers: %6.2f s, %.2f GB/s of input, peak RSS %6.1f MiB  %s\n", gib,
        what, layers, seconds, input / seconds / 1e9, rss,
        gib >= 1 ? (input / seconds >= 0.5e9 ? "PASS" : "MISS") : "");
}

}  // namespace

int main(int argc, char** argv) {
    const fs::path dir = argc > 1 ? argv[1] : fs::temp_directory_path();
    std::printf("threads %u\n", max_threads());
    const auto half = f16_layer();
    std::vector<float> decoded(half.size());
    const double decode_s =
        bench::best_seconds(5, [&] { decode_to_f32(DType::F16, bytes_of(half), decoded); });
    std::printf("baseline F16 -> F32 decode: %.2f GB/s of input\n",
                static_cast<double>(half.size()) * 2 / decode_s / 1e9);
    for (auto [layers, gib] : {std::pair{8, 0.25}, std::pair{32, 1.0}}) {
        const auto tag = std::to_string(layers);
        const auto base = (dir / ("quantlens-bench-diff-" + tag + ".safetensors")).string();
        const auto gptq = (dir / ("quantlens-bench-diff-" + tag + "-gptq")).string();
        write_f16_safetensors(base, layers, half);
        write_gptq_folder(gptq, layers);
        measure(base, gptq, gib, "GPTQ int4 g128");
        fs::remove(base);
        fs::remove_all(gptq);
    }
    for (auto [layers, gib] : {std::pair{8, 0.25}, std::pair{32, 1.0}}) {
        const auto tag = std::to_string(layers);
        const auto base = (dir / ("quantlens-bench-diff-" + tag + ".gguf")).string();
        const auto q4 = (dir / ("quantlens-bench-diff-" + tag + "-q4_0.gguf")).string();
        write_f16_gguf(base, layers, half);
        {
            const auto model = Model::open(base);
            QuantPlan plan;
            plan.model_identity = hex64(model_identity(base).content);
            plan.default_spec = QuantSpec::parse("q4_0");
            export_gguf(model, resolve_plan(plan, model, "bench"), q4);
        }
        measure(base, q4, gib, "Q4_0 GGUF");
        fs::remove(base);
        fs::remove(q4);
    }
}
