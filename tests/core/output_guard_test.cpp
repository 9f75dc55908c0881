// The output guard and the atomic writers under it: nothing the user has is ever replaced,
// deleted or reached through a model file (issue "Nothing lost, nothing reached").
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "export/export_common.hpp"
#include "io/gguf.hpp"
#include "io/open_model.hpp"
#include "io/output_marker.hpp"
#include "test_support.hpp"
#include "util/atomic_file.hpp"
#include "util/mapped_file.hpp"
#include "util/output_guard.hpp"
#include "util/temporary_path.hpp"

using namespace quantlens;
using quantlens::test::read_bytes;
using quantlens::test::ScratchDir;
using quantlens::test::write_bytes;
namespace fs = std::filesystem;

namespace {

std::string refusal(const OutputRequest& request) {
    try {
        guard_output(request);
    } catch (const Error& error) {
        return error.what();
    }
    return {};
}

void write_marked_gguf(const std::string& path) {
    write_gguf(path, with_writer_mark(std::vector<GgufValue>{}), {});
}

std::size_t entries_in(const fs::path& folder) {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(folder), fs::directory_iterator()));
}

}  // namespace

TEST_CASE("an output that is an input, lies inside one or holds one is refused") {
    ScratchDir dir;
    fs::create_directories(dir.path() / "model");
    write_bytes(dir.file("model/model.safetensors"), "weights");
    write_bytes(dir.file("model.gguf"), "weights");

    SECTION("the input file itself") {
        CHECK_THAT(refusal({dir.file("model.gguf"), OutputShape::File, {dir.file("model.gguf")}, true}),
                   Catch::Contains("is the input"));
    }
    SECTION("a file inside the input folder, even one that does not exist yet") {
        CHECK_THAT(refusal({dir.file("model/config.json"), OutputShape::File, {dir.file("model")}, false}),
                   Catch::Contains("lies inside the input folder"));
    }
    SECTION("a folder that holds the input") {
        CHECK_THAT(refusal({dir.path().string(), OutputShape::Folder, {dir.file("model.gguf")}, true}),
                   Catch::Contains("holds the input"));
    }
    SECTION("a path through a symbolic link to the input folder") {
        fs::create_directory_symlink(dir.path() / "model", dir.path() / "link");
        CHECK_THAT(refusal({dir.file("link/out.json"), OutputShape::File, {dir.file("model")}, false}),
                   Catch::Contains("lies inside the input folder"));
    }
    SECTION("a hard link to a file of the input folder") {
        fs::create_hard_link(dir.file("model/model.safetensors"), dir.file("alias.safetensors"));
        CHECK_THAT(refusal({dir.file("alias.safetensors"), OutputShape::File, {dir.file("model")}, true}),
                   Catch::Contains("hard link to an input"));
    }
    SECTION("a fresh name beside the input is allowed") {
        CHECK(
            refusal(
                {dir.file("out.gguf"), OutputShape::File, {dir.file("model.gguf"), dir.file("model")}, false})
                .empty());
    }
}

TEST_CASE("an existing output is replaced only with --force and only when QuantLens wrote it") {
    ScratchDir dir;
    write_bytes(dir.file("thesis.gguf"), "GGUF but not really");
    write_marked_gguf(dir.file("ours.gguf"));
    write_bytes(dir.file("plan.json"), R"({"schema": "quantlens.plan/1", "layers": {}})");
    write_bytes(dir.file("notes.json"), R"({"schema": "someone-else/1"})");
    fs::create_directories(dir.path() / "folder");
    write_bytes(dir.file("folder/thesis.txt"), "years of work");

    CHECK_THAT(refusal({dir.file("ours.gguf"), OutputShape::File, {}, false}),
               Catch::Contains("pass --force"));
    CHECK(refusal({dir.file("ours.gguf"), OutputShape::File, {}, true}).empty());
    CHECK(replacement_approved(dir.file("ours.gguf")));
    CHECK(refusal({dir.file("plan.json"), OutputShape::File, {}, true}).empty());
    CHECK_THAT(refusal({dir.file("thesis.gguf"), OutputShape::File, {}, true}),
               Catch::Contains("no QuantLens marker"));
    CHECK_THAT(refusal({dir.file("notes.json"), OutputShape::File, {}, true}),
               Catch::Contains("no QuantLens marker"));
    CHECK_THAT(refusal({dir.file("folder"), OutputShape::Folder, {}, true}),
               Catch::Contains("no QuantLens marker"));
    CHECK_THAT(refusal({dir.file("folder"), OutputShape::File, {}, true}), Catch::Contains("writes a file"));
    CHECK_FALSE(replacement_approved(dir.file("thesis.gguf")));
    fs::create_symlink(dir.file("ours.gguf"), dir.file("link.gguf"));
    CHECK_THAT(refusal({dir.file("link.gguf"), OutputShape::File, {}, true}),
               Catch::Contains("symbolic link"));
}

TEST_CASE("an atomic file never replaces a file nobody approved, and leaves it as it was") {
    ScratchDir dir;
    write_bytes(dir.file("report.csv"), "the user's own");
    {
        AtomicFile out(dir.file("report.csv"));
        out.write("new", 3);
        CHECK_THROWS_WITH(out.commit(), Catch::Contains("not allowed to replace it"));
    }
    CHECK(read_bytes(dir.file("report.csv")) == "the user's own");
    CHECK(entries_in(dir.path()) == 1);  // no temporary left behind

    AtomicFile cache(dir.file("report.csv"), AtomicFile::Existing::Replace);  // a cache owns its files
    cache.write("new", 3);
    cache.commit();
    CHECK(read_bytes(dir.file("report.csv")) == "new");
}

TEST_CASE("an atomic folder never deletes an existing folder unless it is an approved QuantLens output") {
    ScratchDir dir;
    const auto target = dir.file("export");
    fs::create_directories(target);
    write_bytes(dir.file("export/thesis.txt"), "years of work");
    {
        AtomicDirectory out(target);
        write_bytes(out.file("model.safetensors"), "weights");
        CHECK_THROWS_WITH(out.commit(), Catch::Contains("not allowed to replace it"));
    }
    CHECK(read_bytes(dir.file("export/thesis.txt")) == "years of work");
    CHECK(entries_in(dir.path()) == 1);

    const auto ours = dir.file("ours");
    {
        AtomicDirectory first(ours);
        write_bytes(first.file("a.txt"), "first");
        first.commit();
    }
    CHECK(carries_quantlens_marker(ours));
    guard_output({ours, OutputShape::Folder, {}, true});
    {
        AtomicDirectory second(ours);
        write_bytes(second.file("b.txt"), "second");
        second.commit();
    }
    CHECK(fs::exists(dir.file("ours/b.txt")));
    CHECK_FALSE(fs::exists(dir.file("ours/a.txt")));
    CHECK(entries_in(dir.path()) == 2);
}

TEST_CASE("temporaries of a killed run are removed on the next write; a running writer's are kept") {
    ScratchDir dir;
    const pid_t child = ::fork();
    if (child == 0)
        ::_exit(0);
    ::waitpid(child, nullptr, 0);  // now a process id that no longer runs
    const auto dead = dir.file(".out.gguf.quantlens-tmp-" + std::to_string(child) + "-7");
    const auto live = dir.file(".out.gguf.quantlens-tmp-" + std::to_string(::getppid()) + "-7");
    const auto other = dir.file(".other.gguf.quantlens-tmp-" + std::to_string(child) + "-7");
    fs::create_directories(dead);
    write_bytes(dead + "/part", "700 MB, say");
    write_bytes(live, "being written");
    write_bytes(other, "another target's");
    take_cleanup_notes();

    AtomicFile out(dir.file("out.gguf"));
    CHECK_FALSE(fs::exists(dead));
    CHECK(fs::exists(live));
    CHECK(fs::exists(other));
    const auto notes = take_cleanup_notes();
    REQUIRE(notes.size() == 1);
    CHECK_THAT(notes[0], Catch::Contains("interrupted QuantLens run"));
    CHECK_THAT(out.temp_path(),
               Catch::Contains(".out.gguf.quantlens-tmp-" + std::to_string(::getpid()) + "-"));
}

TEST_CASE("HDF5 datasets stored outside the file are refused by name, before any byte is read") {
    const auto hostile = [](const std::string& name) {
        return quantlens::test::data_path("hostile/" + name);
    };
    CHECK_THROWS_WITH(open_model_file(hostile("external.h5")), Catch::Contains("external.h5") &&
                                                                   Catch::Contains("w") &&
                                                                   Catch::Contains("external file"));
    CHECK_THROWS_WITH(open_model_file(hostile("virtual.h5")), Catch::Contains("virtual dataset"));
    CHECK_THROWS_WITH(open_model_file(hostile("keras-external.h5")),
                      Catch::Contains("dense/kernel:0") && Catch::Contains("external file"));
}

TEST_CASE("a FIFO or a folder where a file is expected is refused at once, never waited on") {
    ScratchDir dir;
    REQUIRE(::mkfifo(dir.file("pipe").c_str(), 0600) == 0);
    CHECK_THROWS_WITH(MappedFile::open(dir.file("pipe")), Catch::Contains("is a FIFO, not a regular file"));
    CHECK_THROWS_WITH(read_prefix(dir.file("pipe"), 16), Catch::Contains("is a FIFO"));
    CHECK_THROWS_WITH(open_model_file(dir.file("pipe")), Catch::Contains("FIFO"));
    CHECK_THROWS_WITH(read_small_file(dir.path().string(), 16), Catch::Contains("is a folder"));
}

TEST_CASE("ONNX external data behind a symbolic link that leaves the model's folder is refused") {
    ScratchDir dir;
    fs::create_directories(dir.path() / "model");
    fs::copy_file(quantlens::test::data_path("onnx-external/gemm.onnx"), dir.file("model/gemm.onnx"));
    fs::copy_file(quantlens::test::data_path("onnx-external/gemm.weights"), dir.file("outside.weights"));
    fs::create_symlink(dir.file("outside.weights"), dir.file("model/gemm.weights"));
    CHECK_THROWS_WITH(open_model_file(dir.file("model/gemm.onnx")),
                      Catch::Contains("outside the model's folder"));

    fs::remove(dir.file("model/gemm.weights"));  // the same bytes as a regular file inside: read
    fs::copy_file(dir.file("outside.weights"), dir.file("model/gemm.weights"));
    CHECK_NOTHROW(open_model_file(dir.file("model/gemm.onnx")));
}
