// Opening a large model must read headers only: 300 tensors totalling >= 8 GB (a sparse
// file, so no disk space is used) listed in < 100 ms with peak RSS < 64 MB.
// The open runs in a forked child so its peak RSS is measured alone.
// Then headers of 1k, 10k and 100k tiny tensors: opening must stay linear in the tensor count
// (100k in under 2 s), beside nlohmann-json's own unchecked parse of the same header.
// Then an ONNX file the size of a 44M-parameter FP16 segmentation model (its weights inside the
// protobuf, as exporters write models under 2 GiB, a third of them in If branches): open in
// under 1 s with peak RSS within 1.5x the file's size, beside protobuf's bare parse of it.
// Usage: bench_open_model [DIR]   (default: the system temp folder)

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <onnx/onnx_pb.h>

#include "bench_support.hpp"
#include "io/gguf.hpp"
#include "model/model.hpp"

using namespace quantlens;

namespace {

constexpr int kTensors = 300;
constexpr std::int64_t kRows = 4096, kColumns = 3584;  // F16: 28 MiB a tensor, 8.2 GiB in all

std::uint64_t make_safetensors(const std::string& path) {
    nlohmann::ordered_json header;
    std::uint64_t offset = 0, bytes = kRows * kColumns * 2;
    for (int i = 0; i < kTensors; ++i) {
        header["model.layers." + std::to_string(i / 3) + ".proj" + std::to_string(i % 3) + ".weight"] = {
            {"dtype", "F16"}, {"shape", {kRows, kColumns}}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    std::uint64_t n = text.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    std::filesystem::resize_file(path, 8 + text.size() + offset);  // sparse: the data is a hole
    return 8 + text.size() + offset;
}

std::uint64_t make_gguf(const std::string& path) {
    // Header only, then extend to the full size (sparse), as the writer would lay it out.
    std::vector<std::byte> none;
    std::vector<TensorToWrite> tensors;
    std::string header = "GGUF";
    auto put = [&](auto value) {
        header.append(reinterpret_cast<const char*>(&value), sizeof value);
    };
    put(std::uint32_t{3});
    put(std::uint64_t{kTensors});
    put(std::uint64_t{0});
    std::uint64_t offset = 0, bytes = kRows * kColumns * 2;
    for (int i = 0; i < kTensors; ++i) {
        std::string name = "blk." + std::to_string(i / 3) + ".proj" + std::to_string(i % 3) + ".weight";
        put(std::uint64_t{name.size()});
        header += name;
        put(std::uint32_t{2});
        put(std::uint64_t{kColumns});
        put(std::uint64_t{kRows});
        put(std::uint32_t{1});  // F16
        put(offset);
        offset += bytes;
    }
    header.append((32 - header.size() % 32) % 32, '\0');
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.close();
    std::filesystem::resize_file(path, header.size() + offset);
    return header.size() + offset;
}

void measure(const std::string& label, const std::string& path, std::uint64_t size) {
    const std::string line = bench::in_child([&] {
        auto start = std::chrono::steady_clock::now();
        auto model = Model::open(path);
        double ms = bench::seconds_since(start) * 1e3;
        char text[256];
        std::snprintf(text, sizeof text, "%.2f %zu %zu %.1f", ms, model.file().tensors().size(),
                      model.layers().size(), bench::peak_rss_mib());
        return std::string(text);
    });
    double ms = 0, rss = 0;
    std::size_t tensors = 0, layers = 0;
    std::sscanf(line.c_str(), "%lf %zu %zu %lf", &ms, &tensors, &layers, &rss);
    std::printf(
        "%-12s %7.1f GB  %4zu tensors  %4zu layers  open+list %7.2f ms (target < 100)  peak RSS %6.1f MB "
        "(target < 64)  %s\n",
        label.c_str(), static_cast<double>(size) / 1e9, tensors, layers, ms, rss * 1.048576,
        ms < 100 && rss * 1.048576 < 64 ? "PASS" : "MISS");
}

// A safetensors file of `count` one-value F32 tensors; returns its header's JSON text.
std::string make_many_tensors(const std::string& path, int count) {
    nlohmann::ordered_json header;
    for (int i = 0; i < count; ++i)
        header["model.layers." + std::to_string(i / 8) + ".t" + std::to_string(i % 8) + ".weight"] = {
            {"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {4 * i, 4 * i + 4}}};
    const std::string text = header.dump();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    const std::uint64_t n = text.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.write(std::string(static_cast<std::size_t>(4 * count), '\0').data(), 4 * count);
    return text;
}

void measure_header_scaling(const std::filesystem::path& dir) {
    double first_per_tensor = 0;
    for (int count : {1000, 10000, 100000}) {
        const auto path = (dir / ("quantlens-bench-" + std::to_string(count) + ".safetensors")).string();
        const std::string text = make_many_tensors(path, count);
        auto start = std::chrono::steady_clock::now();
        const auto plain = nlohmann::json::parse(text);  // the baseline: no limits, no checks
        const double plain_ms = bench::seconds_since(start) * 1e3;
        start = std::chrono::steady_clock::now();
        const auto model = Model::open(path);
        const double ms = bench::seconds_since(start) * 1e3;
        const double per_tensor = ms / count;
        if (first_per_tensor == 0)
            first_per_tensor = per_tensor;
        std::printf(
            "header %6d tensors  open %8.1f ms  (%.2f us a tensor, %.2fx the 1k rate; nlohmann parse alone "
            "%.1f ms, "
            "ratio %.1f)  %s\n",
            count, ms, per_tensor * 1e3, per_tensor / first_per_tensor, plain_ms, ms / plain_ms,
            count < 100000 || ms < 2000 ? "PASS" : "MISS (target < 2 s)");
        (void)plain;
        (void)model;
        std::filesystem::remove(path);
    }
}

// 150 FP16 convolution weights of 256x128x3x3 (44.2M parameters, 88 MB), every third in the
// then-branch of an If node, as control-flow exports hold them.
std::uint64_t make_onnx(const std::string& path) {
    onnx::ModelProto model;
    model.set_ir_version(8);
    model.add_opset_import()->set_version(17);
    auto* graph = model.mutable_graph();
    onnx::GraphProto* branch = nullptr;
    const std::string weight_bytes(256 * 128 * 3 * 3 * 2, '\x3c');  // FP16 0x3c3c ≈ 1.06 everywhere
    for (int i = 0; i < 150; ++i) {
        const std::string name = "conv" + std::to_string(i) + ".weight";
        onnx::GraphProto* target = graph;
        if (i % 3 == 2) {
            if (!branch) {
                auto* node = graph->add_node();
                node->set_op_type("If");
                node->set_name("branch");
                node->add_input("cond");
                node->add_output("y");
                auto* attribute = node->add_attribute();
                attribute->set_name("then_branch");
                attribute->set_type(onnx::AttributeProto::GRAPH);
                branch = attribute->mutable_g();
                branch->set_name("then");
            }
            target = branch;
        }
        auto* tensor = target->add_initializer();
        tensor->set_name(name);
        tensor->set_data_type(onnx::TensorProto::FLOAT16);
        for (std::int64_t dim : {256, 128, 3, 3})
            tensor->add_dims(dim);
        tensor->set_raw_data(weight_bytes);
        auto* node = target->add_node();
        node->set_op_type("Conv");
        node->set_name("conv" + std::to_string(i));
        node->add_input("x" + std::to_string(i));
        node->add_input(name);
        node->add_output("x" + std::to_string(i + 1));
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    model.SerializeToOstream(&out);
    out.close();
    return std::filesystem::file_size(path);
}

void measure_onnx(const std::filesystem::path& dir) {
    const auto path = (dir / "quantlens-bench-44m.onnx").string();
    // Written in a child of its own: the 88 MB message must not sit in this process's heap, where
    // the measuring children would inherit it into their peak RSS.
    const std::uint64_t size = std::stoull(bench::in_child([&] { return std::to_string(make_onnx(path)); }));
    const std::string line = bench::in_child([&] {
        const double before = bench::peak_rss_mib();  // what the child starts with
        auto start = std::chrono::steady_clock::now();
        auto model = Model::open(path);
        const double ms = bench::seconds_since(start) * 1e3;
        std::uint64_t parameters = 0;
        for (const auto& tensor : model.file().tensors())
            parameters += tensor.elements();
        char text[256];
        std::snprintf(text, sizeof text, "%.2f %zu %llu %.1f %.1f", ms, model.layers().size(),
                      static_cast<unsigned long long>(parameters), bench::peak_rss_mib(), before);
        return std::string(text);
    });
    const std::string baseline = bench::in_child([&] {
        auto start = std::chrono::steady_clock::now();
        std::ifstream in(path, std::ios::binary);
        onnx::ModelProto parsed;
        parsed.ParseFromIstream(&in);
        char text[64];
        std::snprintf(text, sizeof text, "%.2f %.1f", bench::seconds_since(start) * 1e3,
                      bench::peak_rss_mib());
        return std::string(text);
    });
    double ms = 0, rss = 0, bare_ms = 0, bare_rss = 0, before = 0;
    std::size_t layers = 0;
    unsigned long long parameters = 0;
    std::sscanf(line.c_str(), "%lf %zu %llu %lf %lf", &ms, &layers, &parameters, &rss, &before);
    std::sscanf(baseline.c_str(), "%lf %lf", &bare_ms, &bare_rss);
    const double file_mb = static_cast<double>(size) / 1e6, rss_mb = rss * 1.048576;
    std::printf(
        "onnx         %5.1f MB  %zu layers  %.1fM parameters (a third in If branches)  open+list %7.1f ms "
        "(target < 1000; protobuf's bare parse of the file %.1f ms, ratio %.2f)  peak RSS %6.1f MB (%.1f MB "
        "at the start) = %.2fx the file (target <= 1.5; bare parse %.1f MB)  %s\n",
        file_mb, layers, static_cast<double>(parameters) / 1e6, ms, bare_ms, ms / bare_ms, rss_mb,
        before * 1.048576, rss_mb / file_mb, bare_rss * 1.048576,
        ms < 1000 && rss_mb <= 1.5 * file_mb ? "PASS" : "MISS");
    std::filesystem::remove(path);
}

}  // namespace

int main(int argc, char** argv) {
    std::filesystem::path dir = argc > 1 ? argv[1] : std::filesystem::temp_directory_path();
    auto st = (dir / "quantlens-bench-300.safetensors").string();
    auto gguf = (dir / "quantlens-bench-300.gguf").string();
    std::printf("bench_open_model: sparse files in %s\n", dir.c_str());
    measure_onnx(dir);  // first, while this process is small: its children inherit its heap
    measure("safetensors", st, make_safetensors(st));
    measure("gguf", gguf, make_gguf(gguf));
    std::filesystem::remove(st);
    std::filesystem::remove(gguf);
    measure_header_scaling(dir);
}
