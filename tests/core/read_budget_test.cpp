// Reads an input can make expensive: a decompressed tensor is bounded by the memory available
// (or QUANTLENS_MEMORY_LIMIT), large HDF5 datasets come in bands of rows, and every such read
// stops when the work it serves is cancelled (issue "Nothing lost, nothing reached" §3, §4).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <vector>

#include "io/hdf5.hpp"
#include "model/model.hpp"
#include "test_support.hpp"
#include "util/memory_budget.hpp"
#include "util/progress.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {

struct MemoryLimit {  // QUANTLENS_MEMORY_LIMIT for one test
    explicit MemoryLimit(const char* bytes) { ::setenv("QUANTLENS_MEMORY_LIMIT", bytes, 1); }
    ~MemoryLimit() { ::unsetenv("QUANTLENS_MEMORY_LIMIT"); }
};

const std::string kZeros = QUANTLENS_TEST_DATA "/hostile/zeros.npz";  // generate_hostile.py

}  // namespace

TEST_CASE("a deflated npz member larger than the memory budget is refused by name before inflating") {
    const auto model = Model::open(kZeros);  // opening inflates only the .npy header
    const auto& info = model.file().tensor("w");
    CHECK(info.byte_size == 4u << 20);
    {
        MemoryLimit limit("1048576");
        CHECK(tensor_memory_budget() == 1u << 20);
        CHECK_THROWS_WITH(model.file().read(info),
                          Catch::Contains("zeros.npz") && Catch::Contains("w.npy") &&
                              Catch::Contains("needs 4.0 MiB, more than the 1.0 MiB") &&
                              Catch::Contains("QUANTLENS_MEMORY_LIMIT"));
    }
    CHECK(tensor_memory_budget() > 1u << 20);  // half of MemAvailable
    const auto values = model.file().read_f32(info);
    CHECK(values.values().size() == 1u << 20);
}

TEST_CASE("inflating an npz member stops when its work is cancelled") {
    const auto model = Model::open(kZeros);
    CancelToken token;
    token.cancel();
    CancelScope scope(&token);
    CHECK_THROWS_AS(model.file().read(model.file().tensor("w")), Cancelled);
}

TEST_CASE("an HDF5 dataset is read in bands of rows with the same values, within the budget, cancellably") {
    ScratchDir dir;
    std::vector<float> ramp(5'000'000);  // 20 MB of one row each: two bands of 16 MiB
    for (std::size_t i = 0; i < ramp.size(); ++i)
        ramp[i] = static_cast<float>(i % 100'003) * 0.5f;
    const auto bytes = std::as_bytes(std::span(ramp));
    write_hdf5(dir.file("ramp.h5"), {{"ramp", DType::F32, {static_cast<std::int64_t>(ramp.size())}, bytes}});
    const auto model = Model::open(dir.file("ramp.h5"));
    const auto& info = model.file().tensor("ramp");
    const auto read = model.file().read(info);
    REQUIRE(read.bytes().size() == bytes.size());
    CHECK(std::equal(read.bytes().begin(), read.bytes().end(), bytes.begin()));
    {
        MemoryLimit limit("10000000");
        CHECK_THROWS_WITH(model.file().read(info), Catch::Contains("ramp.h5") &&
                                                       Catch::Contains("reading the dataset needs 19.1 MiB"));
    }
    CancelToken token;
    token.cancel();
    CancelScope scope(&token);
    CHECK_THROWS_AS(model.file().read(info), Cancelled);
    CHECK_THROWS_AS(Model::open(dir.file("ramp.h5")), Cancelled);  // the HDF5 check is stopped too
}
