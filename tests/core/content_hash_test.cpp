// The caches' content hash: XXH3-128 as xxHash's own xxhsum prints it, and a whole-file hash
// that sees every byte, not a file's size, time or first MiB (issue "Nothing lost" §6).
#include <catch2/catch.hpp>

#include <filesystem>
#include <vector>

#include <sys/stat.h>

#include "model/model_identity.hpp"
#include "test_support.hpp"
#include "util/content_hash.hpp"

using namespace quantlens;
using namespace quantlens::test;
namespace fs = std::filesystem;

TEST_CASE("content hashes are XXH3-128 as xxhsum -H2 prints them") {
    // printf '' | xxhsum -H2; printf 'QuantLens' | xxhsum -H2  (Debian's xxhash 0.8.1)
    CHECK(content_hash({}) == "99aa06d3014798d86001c324468d497f");
    const std::string text = "QuantLens";
    CHECK(content_hash(std::as_bytes(std::span(text))) == "bc9ad12f9182eab44e18de7e837378aa");
    ContentHasher pieces;  // the same bytes given in pieces
    pieces.update(std::string_view("Quant"));
    pieces.update(std::string_view("Lens"));
    CHECK(pieces.hex() == "bc9ad12f9182eab44e18de7e837378aa");
}

TEST_CASE("a file's content hash sees a byte changed past the first MiB under a restored modification time") {
    ScratchDir dir;
    std::string bytes(3 << 20, '\x07');
    write_bytes(dir.file("model.bin"), bytes);
    const auto before = file_content_hash(dir.file("model.bin"));
    const auto identity = model_identity(dir.file("model.bin")).description;
    const auto mtime = fs::last_write_time(dir.file("model.bin"));
    bytes[(2 << 20) + 5] = '\x08';
    write_bytes(dir.file("model.bin"), bytes);
    fs::last_write_time(dir.file("model.bin"), mtime);
    CHECK(model_identity(dir.file("model.bin")).description == identity);  // blind to it
    CHECK(file_content_hash(dir.file("model.bin")) != before);
    SECTION("a folder's hash covers each file's name and bytes") {
        fs::create_directory(dir.file("folder"));
        fs::copy_file(dir.file("model.bin"), dir.file("folder/a.bin"));
        const auto folder = file_content_hash(dir.file("folder"));
        fs::rename(dir.file("folder/a.bin"), dir.file("folder/b.bin"));
        CHECK(file_content_hash(dir.file("folder")) != folder);
    }
    SECTION("a FIFO is refused by name, not waited on") {
        REQUIRE(::mkfifo(dir.file("fifo").c_str(), 0600) == 0);
        CHECK_THROWS_WITH(file_content_hash(dir.file("fifo")), Catch::Contains("fifo"));
    }
}
