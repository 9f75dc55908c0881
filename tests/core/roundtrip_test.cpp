#include <catch2/catch.hpp>

#include "io/gguf.hpp"
#include "io/hdf5.hpp"
#include "io/numpy.hpp"
#include "test_support.hpp"
#include "util/atomic_file.hpp"
#include "util/mapped_file.hpp"
#include <bit>

using namespace quantlens;
using namespace quantlens::test;

namespace {

struct Sample {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::byte> bytes;
    TensorToWrite view() const { return {name, dtype, shape, bytes}; }
};

// Random bit patterns (NaNs included: files must carry bytes, not values); BOOL stays 0/1.
Sample make_sample(DType dtype, std::vector<std::int64_t> shape, unsigned seed) {
    std::mt19937 rng(seed);
    Sample sample{"t_" + std::string(dtype_name(dtype)), dtype, shape, {}};
    sample.bytes.resize(*storage_bytes(dtype, *element_count(shape)));
    for (auto& byte : sample.bytes)
        byte = static_cast<std::byte>(dtype == DType::BOOL ? rng() % 2 : rng() % 256);
    return sample;
}

void check_reads_back(const std::string& path, const std::vector<Sample>& samples) {
    auto file = open_model_file(path);
    REQUIRE(file->tensors().size() == samples.size());
    for (const auto& sample : samples) {
        INFO(path << " " << sample.name);
        const auto& info = file->tensor(sample.name);
        CHECK(info.dtype == sample.dtype);
        CHECK(info.shape == sample.shape);
        auto stored = file->read(info);
        auto bytes = stored.bytes();
        CHECK(std::equal(bytes.begin(), bytes.end(), sample.bytes.begin(), sample.bytes.end()));
    }
}

std::vector<TensorToWrite> views(const std::vector<Sample>& samples) {
    std::vector<TensorToWrite> result;
    for (const auto& sample : samples)
        result.push_back(sample.view());
    return result;
}

const std::vector<DType> kPlainTypes = {DType::F64,     DType::F32, DType::F16, DType::BF16, DType::F8_E4M3,
                                        DType::F8_E5M2, DType::I64, DType::I32, DType::I16,  DType::I8,
                                        DType::U64,     DType::U32, DType::U16, DType::U8,   DType::BOOL};

}  // namespace

TEST_CASE("safetensors round-trips every dtype it supports") {
    ScratchDir dir;
    std::vector<Sample> samples;
    unsigned seed = 1;
    for (auto dtype : kPlainTypes)
        samples.push_back(make_sample(dtype, {3, 5}, seed++));
    samples.push_back(make_sample(DType::F32, {}, seed++));  // a scalar
    samples.back().name = "scalar";
    write_safetensors(dir.file("all.safetensors"), views(samples), {{"format", "pt"}});
    check_reads_back(dir.file("all.safetensors"), samples);
    CHECK(open_model_file(dir.file("all.safetensors"))->metadata()["format"] == "pt");
}

TEST_CASE("HDF5 round-trips every dtype it supports, in nested groups") {
    ScratchDir dir;
    std::vector<Sample> samples;
    unsigned seed = 100;
    for (auto dtype : kPlainTypes) {
        samples.push_back(make_sample(dtype, {4, 3}, seed++));
        samples.back().name = "group/sub/" + samples.back().name;
    }
    write_hdf5(dir.file("all.h5"), views(samples));
    check_reads_back(dir.file("all.h5"), samples);
}

TEST_CASE("npz round-trips every dtype NumPy has") {
    ScratchDir dir;
    std::vector<Sample> samples;
    unsigned seed = 200;
    for (auto dtype : kPlainTypes)
        if (dtype != DType::BF16 && dtype != DType::F8_E4M3 && dtype != DType::F8_E5M2)
            samples.push_back(make_sample(dtype, {2, 7}, seed++));
    write_npz(dir.file("all.npz"), views(samples));
    check_reads_back(dir.file("all.npz"), samples);
    write_npy(dir.file("one.npy"), samples.front().view());
    auto npy = open_model_file(dir.file("one.npy"));
    CHECK(npy->tensors().front().shape == samples.front().shape);
}

TEST_CASE("GGUF round-trips float, integer and ggml block types with metadata") {
    ScratchDir dir;
    std::vector<Sample> samples;
    unsigned seed = 300;
    for (auto dtype :
         {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::I16, DType::I8})
        samples.push_back(make_sample(dtype, {3, 8}, seed++));
    for (auto dtype :
         {DType::Q4_0,   DType::Q4_1,   DType::Q5_0,    DType::Q5_1,  DType::Q8_0,  DType::Q8_1,
          DType::Q2_K,   DType::Q3_K,   DType::Q4_K,    DType::Q5_K,  DType::Q6_K,  DType::IQ2_XXS,
          DType::IQ2_XS, DType::IQ2_S,  DType::IQ3_XXS, DType::IQ3_S, DType::IQ1_S, DType::IQ1_M,
          DType::IQ4_NL, DType::IQ4_XS, DType::TQ1_0,   DType::TQ2_0, DType::MXFP4, DType::NVFP4,
          DType::Q1_0,   DType::Q2_0})
        samples.push_back(make_sample(dtype, {2, 256}, seed++));  // every ggml type a GGUF holds opens
    std::vector<GgufValue> metadata{
        gguf_string("general.architecture", "llama"), gguf_u32("llama.block_count", 2),
        gguf_f32("llama.rope.freq_base", 10000.0f), gguf_string_array("tokenizer.ggml.tokens", {"a", "b"}),
        gguf_u32("general.alignment", 64)};
    write_gguf(dir.file("all.gguf"), metadata, views(samples));
    check_reads_back(dir.file("all.gguf"), samples);
    auto file = open_model_file(dir.file("all.gguf"));
    CHECK(file->metadata()["llama.block_count"] == 2);
    CHECK(file->metadata()["tokenizer.ggml.tokens"] == nlohmann::json({"a", "b"}));
    // Re-export carries every key over byte for byte.
    auto header = parse_gguf(MappedFile::open(dir.file("all.gguf"))->bytes(), "all.gguf");
    write_gguf(dir.file("again.gguf"), header.metadata, views(samples));
    CHECK(read_bytes(dir.file("again.gguf")) == read_bytes(dir.file("all.gguf")));
}

TEST_CASE("the same tensors written as safetensors, HDF5, npz and GGUF read back identical") {
    ScratchDir dir;
    std::vector<Sample> samples{make_sample(DType::F32, {4, 32}, 7), make_sample(DType::F16, {2, 32}, 8),
                                make_sample(DType::I32, {32}, 9), make_sample(DType::I8, {3, 32}, 10)};
    write_safetensors(dir.file("m.safetensors"), views(samples));
    write_hdf5(dir.file("m.h5"), views(samples));
    write_npz(dir.file("m.npz"), views(samples));
    write_gguf(dir.file("m.gguf"), {}, views(samples));
    auto reference = open_model_file(dir.file("m.safetensors"));
    for (const char* name : {"m.h5", "m.npz", "m.gguf"}) {
        auto other = open_model_file(dir.file(name));
        for (const auto& info : reference->tensors()) {
            INFO(name << " " << info.name);
            const auto& twin = other->tensor(info.name);
            CHECK(twin.shape == info.shape);
            CHECK(twin.dtype == info.dtype);
            auto a = reference->read_f32(info), b = other->read_f32(twin);
            CHECK(std::equal(a.values().begin(), a.values().end(), b.values().begin(), b.values().end(),
                             [](float x, float y) {
                                 return std::bit_cast<std::uint32_t>(x) == std::bit_cast<std::uint32_t>(y);
                             }));
        }
    }
}

TEST_CASE("an uncommitted atomic write leaves neither the target nor a temporary") {
    ScratchDir dir;
    {
        AtomicFile out(dir.file("target.bin"));
        out.write("abc", 3);
        CHECK(std::filesystem::exists(out.temp_path()));
    }
    CHECK(std::filesystem::is_empty(dir.path()));
    write_bytes(dir.file("target.bin"), "old");
    {
        AtomicFile out(dir.file("target.bin"));
        out.write("new contents", 12);
    }
    CHECK(read_bytes(dir.file("target.bin")) == "old");  // the old file is untouched
    {
        AtomicFile out(dir.file("target.bin"),
                       AtomicFile::Existing::Replace);  // as a cache replaces its files
        out.write("new", 3);
        out.commit();
    }
    CHECK(read_bytes(dir.file("target.bin")) == "new");
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 1);
}

TEST_CASE("writers refuse tensors whose bytes do not match their shape") {
    ScratchDir dir;
    std::vector<std::byte> bytes(10);
    CHECK_THROWS_WITH(write_safetensors(dir.file("x.safetensors"), {{"w", DType::F32, {3}, bytes}}),
                      Catch::Contains("w") && Catch::Contains("needs 12"));
    CHECK_THROWS_WITH(write_gguf(dir.file("x.gguf"), {}, {{"q", DType::Q4_0, {1, 16}, bytes}}),
                      Catch::Contains("whole blocks"));
    CHECK(std::filesystem::is_empty(dir.path()));
}
