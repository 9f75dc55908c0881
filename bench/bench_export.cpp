// Export speed (issue 6 target): 256 MiB and 1 GiB F16 models (4096×4096 layers) exported
// with every layer at Q4_0 to GGUF (from GGUF) and at int4:g128:sym to compressed-tensors'
// packed safetensors (from safetensors), each in a forked child for its own peak RSS.
// Reported as GB/s of input beside the same run's F16 → F32 decode of the input (the least
// any export must do), target ≥ 1 GB/s of input on 2 threads with RSS independent of size.
// Usage: bench_export [scratch folder]

#include <cstdio>
#include <filesystem>
#include <random>
#include <vector>

#include "alloc/plan.hpp"
#include "bench_support.hpp"
#include "export/compressed_tensors.hpp"
#include "export/gguf_export.hpp"
#include "io/gguf.hpp"
#include "io/safetensors.hpp"
#include "model/model_identity.hpp"
#include "tensor/convert.hpp"
#include "util/atomic_file.hpp"
#include "util/parallel.hpp"

using namespace quantlens;

namespace {

constexpr std::int64_t kSide = 4096;

void write_model(const std::string& path, int layers) {
    std::vector<GgufTensorDeclaration> declared;
    for (int i = 0; i < layers; ++i)
        declared.push_back({"blk." + std::to_string(i) + ".ffn_up.weight", DType::F16, {kSide, kSide}});
    GgufStreamWriter writer(path, {gguf_string("general.architecture", "llama")}, declared);
    std::mt19937 rng(3);
    std::student_t_distribution<float> t(4);
    std::vector<std::uint16_t> half(static_cast<std::size_t>(kSide * kSide));
    for (auto& h : half)
        h = f32_to_f16(0.02f * t(rng));
    for (int i = 0; i < layers; ++i)
        writer.write_tensor({reinterpret_cast<const std::byte*>(half.data()), half.size() * 2});
    writer.commit();
}

void write_safetensors_model(const std::string& path, int layers) {
    std::vector<TensorDeclaration> declared;
    for (int i = 0; i < layers; ++i)
        declared.push_back(
            {"model.layers." + std::to_string(i) + ".mlp.up_proj.weight", DType::F16, {kSide, kSide}});
    SafetensorsStreamWriter writer(path, declared);
    std::mt19937 rng(5);
    std::student_t_distribution<float> t(4);
    std::vector<std::uint16_t> half(static_cast<std::size_t>(kSide * kSide));
    for (auto& h : half)
        h = f32_to_f16(0.02f * t(rng));
    for (int i = 0; i < layers; ++i)
        writer.write_tensor({reinterpret_cast<const std::byte*>(half.data()), half.size() * 2});
    writer.commit();
}

// One export in a forked child (its peak RSS is its own), reported against the target.
template <class Export>
void measure(const std::string& path, const std::string& out, double gib, const char* what, const char* spec,
             Export run) {
    const std::string line = bench::in_child([&] {
        const auto model = Model::open(path);
        QuantPlan plan;
        plan.model_identity = hex64(model_identity(path).content);
        plan.default_spec = QuantSpec::parse(spec);
        const auto start = std::chrono::steady_clock::now();
        const auto summary = run(model, resolve_plan(plan, model, "bench"), out);
        char text[128];
        std::snprintf(text, sizeof text, "%.4f %llu %.1f", bench::seconds_since(start),
                      static_cast<unsigned long long>(summary.bytes_out), bench::peak_rss_mib());
        return std::string(text);
    });
    double seconds = 0, rss = 0;
    unsigned long long bytes_out = 0;
    std::sscanf(line.c_str(), "%lf %llu %lf", &seconds, &bytes_out, &rss);
    const double input = gib * 1073741824.0;
    std::printf(
        "export %.2f GiB F16 -> %s: %6.2f s, %.2f GB/s of input, %.0f MiB written, peak RSS %6.1f MiB  %s\n",
        gib, what, seconds, input / seconds / 1e9, static_cast<double>(bytes_out) / 1048576.0, rss,
        gib >= 1 ? (input / seconds >= 1e9 ? "PASS" : "MISS") : "");
}

}  // namespace

int main(int argc, char** argv) {
    const std::filesystem::path dir = argc > 1 ? argv[1] : std::filesystem::temp_directory_path();
    std::printf("threads %u\n", max_threads());
    // Baseline: decoding the F16 input to float32 on all threads (64 MiB of F16).
    std::vector<std::uint16_t> half(static_cast<std::size_t>(kSide * kSide / 2), 0x3c00);
    std::vector<float> decoded(half.size());
    const double decode_s = bench::best_seconds(5, [&] {
        decode_to_f32(DType::F16, {reinterpret_cast<const std::byte*>(half.data()), half.size() * 2},
                      decoded);
    });
    std::printf("baseline F16 -> F32 decode: %.2f GB/s of input\n",
                static_cast<double>(half.size()) * 2 / decode_s / 1e9);
    {  // Baseline: what writing an export's output costs here (write + fsync + rename of 288 MiB)
        const auto path = (dir / "quantlens-bench-write.bin").string();
        std::vector<std::byte> block(std::size_t{1} << 24, std::byte{1});
        const auto start = std::chrono::steady_clock::now();
        AtomicFile out(path);
        for (int i = 0; i < 18; ++i)
            out.write(block);
        out.commit();
        const double seconds = bench::seconds_since(start);
        std::printf("baseline write+fsync of 288 MiB: %.2f s (%.2f GB/s)\n", seconds,
                    18.0 * 16 * 1048576 / seconds / 1e9);
        std::filesystem::remove(path);
    }
    for (auto [layers, gib] : {std::pair{8, 0.25}, std::pair{32, 1.0}}) {
        const auto path = (dir / ("quantlens-bench-export-" + std::to_string(layers) + ".gguf")).string();
        const auto out = (dir / ("quantlens-bench-export-" + std::to_string(layers) + "-q4_0.gguf")).string();
        write_model(path, layers);
        measure(
            path, out, gib, "Q4_0 GGUF", "q4_0",
            [](const Model& m, const auto& plan, const std::string& o) { return export_gguf(m, plan, o); });
        std::filesystem::remove(path);
        std::filesystem::remove(out);
    }
    for (auto [layers, gib] : {std::pair{8, 0.25}, std::pair{32, 1.0}}) {
        const auto path =
            (dir / ("quantlens-bench-export-" + std::to_string(layers) + ".safetensors")).string();
        const auto out = (dir / ("quantlens-bench-export-" + std::to_string(layers) + "-packed")).string();
        write_safetensors_model(path, layers);
        measure(path, out, gib, "int4:g128 packed safetensors", "int4:g128:sym:scale=f16",
                [](const Model& m, const auto& plan, const std::string& o) {
                    return export_packed_safetensors(m, plan, o);
                });
        std::filesystem::remove(path);
        std::filesystem::remove_all(out);
    }
}
