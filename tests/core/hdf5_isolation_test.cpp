// HDF5 files are read first in a forked child (io/hdf5_probe): what crashes or exhausts libhdf5
// there becomes an error naming the file, and the process that asked stays up.
#include <catch2/catch.hpp>

#include <csignal>
#include <chrono>
#include <filesystem>
#include <thread>

#include "io/hdf5_probe.hpp"
#include "io/open_model.hpp"
#include "test_support.hpp"

using namespace quantlens;
namespace fs = std::filesystem;

TEST_CASE("the HDF5 inputs that crashed libhdf5 in-process now give an error, and the process survives") {
    const fs::path folder = quantlens::test::data_path("../fuzz/regressions/hdf5");
    int files = 0;
    for (const auto& entry : fs::directory_iterator(folder)) {
        INFO(entry.path().string());
        ++files;
        try {
            const auto file = open_model_file(entry.path().string());
            for (const auto& info : file->tensors())
                file->read(info);  // a flip libhdf5 survives is fine too
        } catch (const Error& error) {
            CHECK_THAT(std::string(error.what()), Catch::Contains(entry.path().filename().string()));
        }
    }
    CHECK(files == 4);
}

TEST_CASE("a crash in the HDF5 check is reported as the file's error, naming the signal") {
    const auto path = quantlens::test::sample_path("digits-mlp.h5");
    CHECK_THROWS_WITH(probe_in_child(path, [] { ::raise(SIGSEGV); }),
                      Catch::Contains("digits-mlp.h5") && Catch::Contains("crashed") &&
                          Catch::Contains("separate process"));
    CHECK_THROWS_WITH(probe_in_child(path, [] { throw Error("x.h5", "dataset \"w\"", "is odd"); }),
                      Catch::Contains("x.h5: dataset \"w\": is odd"));
    CHECK_THROWS_WITH(
        probe_in_child(path, [] { std::this_thread::sleep_for(std::chrono::seconds(30)); }, {0, 0.2}),
        Catch::Contains("took longer than"));
    CHECK_NOTHROW(probe_in_child(path, [] {}));
}

TEST_CASE("a tiny HDF5 file declaring gigabytes of fill values is refused within the memory budget") {
    const auto path = quantlens::test::data_path("hostile/huge-fill.h5");
    REQUIRE(fs::file_size(path) < 4096);
    CHECK_THROWS_WITH(open_model_file(path), Catch::Contains("huge-fill.h5"));
}
