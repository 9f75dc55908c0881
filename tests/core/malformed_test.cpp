#include <catch2/catch.hpp>
#include "io/json_limits.hpp"
#include "nn/keras_graph.hpp"

#include "io/gguf.hpp"
#include "io/hdf5.hpp"
#include "io/numpy.hpp"
#include "model/model.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;
using Catch::Contains;

namespace {

// Opening and reading every tensor must either work or throw quantlens::Error.
void open_and_read_all(const std::string& path) {
    auto model = Model::open(path);
    for (const auto& info : model.file().tensors())
        model.file().read_f32(info);
}

std::string open_error(const std::string& path) {
    try {
        open_and_read_all(path);
    } catch (const Error& error) {
        return error.what();
    }
    return "no error";
}

std::string st(const std::string& header, std::size_t data_bytes) {
    return safetensors_bytes(header, std::string(data_bytes, '\0'));
}

std::string gguf_header(std::uint32_t version, std::uint64_t tensors, std::uint64_t kvs) {
    std::string out = "GGUF";
    put<std::uint32_t>(out, version);
    put<std::uint64_t>(out, tensors);
    put<std::uint64_t>(out, kvs);
    return out;
}

void put_string(std::string& out, const std::string& text) {
    put<std::uint64_t>(out, text.size());
    out += text;
}

std::string gguf_with_tensor(std::uint64_t n_dims, std::vector<std::uint64_t> ne, std::uint32_t type,
                             std::uint64_t offset, std::size_t data) {
    std::string out = gguf_header(3, 1, 0);
    put_string(out, "w");
    put<std::uint32_t>(out, static_cast<std::uint32_t>(n_dims));
    for (auto dim : ne)
        put<std::uint64_t>(out, dim);
    put<std::uint32_t>(out, type);
    put<std::uint64_t>(out, offset);
    out.append((32 - out.size() % 32) % 32, '\0');
    return out + std::string(data, '\0');
}

}  // namespace

TEST_CASE("malformed safetensors give errors naming the file and the field") {
    ScratchDir dir;
    auto path = dir.file("bad.safetensors");
    auto error_for = [&](const std::string& bytes) {
        write_bytes(path, bytes);
        return open_error(path);
    };
    const std::string good = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    REQUIRE(error_for(st(good, 8)) == "no error");

    SECTION("truncated before the header length") {
        CHECK_THAT(error_for(std::string("\x10\0\0", 3)),
                   Contains("unrecognised format") || Contains("too short"));
    }
    SECTION("header length past the end of the file") {
        std::string bytes = st(good, 8);
        bytes[0] = '\x7f';
        CHECK_THAT(error_for(bytes),
                   Contains("bad.safetensors") && (Contains("past the end") || Contains("unrecognised")));
        CHECK_THROWS_WITH(
            parse_safetensors_header({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, path),
            Contains("header length (byte 0)") && Contains("past the end"));
    }
    SECTION("absurd header length") {
        std::string bytes = st(good, 8);
        std::uint64_t huge = 1ull << 40;
        std::memcpy(bytes.data(), &huge, 8);
        CHECK_THROWS_WITH(
            parse_safetensors_header({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, path),
            Contains("100 MB"));
    }
    SECTION("malformed JSON reports the byte offset") {
        CHECK_THAT(error_for(st(R"({"w":{"dtype":"F32",)", 8)),
                   Contains("malformed JSON") && Contains("byte"));
    }
    SECTION("offsets outside the data") {
        CHECK_THAT(error_for(st(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 8)),
                   Contains("tensor \"w\" data_offsets") && Contains("hole"));
    }
    SECTION("offsets beyond the buffer") {
        CHECK_THAT(error_for(st(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8)),
                   Contains("data buffer"));
    }
    SECTION("overlapping tensors") {
        CHECK_THAT(
            error_for(st(
                R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                8)),
            Contains("overlaps"));
    }
    SECTION("a hole between tensors") {
        CHECK_THAT(error_for(st(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
                   Contains("hole"));
    }
    SECTION("shape times dtype size overflows") {
        CHECK_THAT(
            error_for(st(R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8)),
            Contains("overflows"));
    }
    SECTION("span disagrees with shape") {
        CHECK_THAT(error_for(st(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)),
                   Contains("needs 12"));
    }
    SECTION("unknown dtype is named") {
        CHECK_THAT(error_for(st(R"({"w":{"dtype":"F4","shape":[2],"data_offsets":[0,8]}})", 8)),
                   Contains("unknown dtype \"F4\""));
    }
    SECTION("negative dimension") {
        CHECK_THAT(error_for(st(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)),
                   Contains("non-negative"));
    }
    SECTION("duplicate tensor names") {
        CHECK_THAT(
            error_for(st(
                R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                8)),
            Contains("appears twice"));
    }
    SECTION("non-UTF-8 tensor names") {
        CHECK_THAT(error_for(st("{\"w\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8)),
                   Contains("malformed JSON"));
    }
    SECTION("metadata values must be strings") {
        CHECK_THAT(
            error_for(
                st(R"({"__metadata__":{"k":1},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8)),
            Contains("__metadata__.k"));
    }
    SECTION("deep nesting is refused") {
        std::string deep = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":)" +
                           std::string(100, '[') + std::string(100, ']') + "}}";
        CHECK_THAT(error_for(st(deep, 8)), Contains("nests deeper"));
    }
}

TEST_CASE("every truncation of a valid file fails cleanly, for every format") {
    ScratchDir dir;
    auto check_all_prefixes = [&](const std::string& source, std::size_t step) {
        std::string bytes = read_bytes(source);
        auto path = dir.file("cut");
        int errors = 0;
        for (std::size_t length = 0; length < bytes.size(); length += step) {
            write_bytes(path, bytes.substr(0, length));
            try {
                open_and_read_all(path);
            } catch (const Error&) {
                ++errors;
            }
        }
        return errors;
    };
    CHECK(check_all_prefixes(sample_path("tiny-gpt2/model.safetensors"), 97) > 0);
    CHECK(check_all_prefixes(sample_path("tiny-gpt2.gguf"), 13) > 0);
    CHECK(check_all_prefixes(sample_path("tiny-gpt2-block0.npz"), 101) > 0);
    CHECK(check_all_prefixes(sample_path("digits-mlp-constants.onnx"), 37) > 0);
    CHECK(check_all_prefixes(sample_path("digits-mlp.h5"), 1499) > 0);
}

TEST_CASE("malformed GGUF gives errors naming the field and byte offset") {
    ScratchDir dir;
    auto path = dir.file("bad.gguf");
    auto error_for = [&](const std::string& bytes) {
        write_bytes(path, bytes);
        return open_error(path);
    };
    REQUIRE(error_for(gguf_with_tensor(2, {32, 2}, 0, 0, 256)) == "no error");

    SECTION("wrong magic") {
        auto bytes = gguf_header(3, 0, 0);
        bytes[0] = 'X';
        CHECK_THROWS_WITH(parse_gguf({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, path),
                          Contains("magic"));
    }
    SECTION("version 1 is refused with a reason") {
        CHECK_THAT(error_for(gguf_header(1, 0, 0)), Contains("v1"));
    }
    SECTION("unknown version") {
        CHECK_THAT(error_for(gguf_header(9, 0, 0)), Contains("unsupported GGUF version 9"));
    }
    SECTION("truncated header") {
        CHECK_THAT(error_for(gguf_header(3, 0, 0).substr(0, 12)), Contains("tensor_count at byte 8"));
    }
    SECTION("absurd tensor count") {
        CHECK_THAT(error_for(gguf_header(3, 1ull << 60, 0)),
                   Contains("tensor_count") && Contains("cannot fit"));
    }
    SECTION("absurd metadata count") {
        CHECK_THAT(error_for(gguf_header(3, 0, 1ull << 60)), Contains("metadata_kv_count"));
    }
    SECTION("absurd array length") {
        auto bytes = gguf_header(3, 0, 1);
        put_string(bytes, "tokenizer.ggml.tokens");
        put<std::uint32_t>(bytes, 9);
        put<std::uint32_t>(bytes, 8);
        put<std::uint64_t>(bytes, 1ull << 50);
        CHECK_THAT(error_for(bytes), Contains("tokenizer.ggml.tokens") && Contains("cannot fit"));
    }
    SECTION("string length past the end") {
        auto bytes = gguf_header(3, 0, 1);
        put<std::uint64_t>(bytes, 1ull << 62);
        bytes.append(64, '\0');
        CHECK_THAT(error_for(bytes), Contains("metadata key #0") && Contains("remain"));
    }
    SECTION("non-UTF-8 key") {
        auto bytes = gguf_header(3, 0, 1);
        put_string(bytes, "bad\xc3");
        put<std::uint32_t>(bytes, 4);
        put<std::uint32_t>(bytes, 1);
        CHECK_THAT(error_for(bytes), Contains("UTF-8"));
    }
    SECTION("unknown value type") {
        auto bytes = gguf_header(3, 0, 1);
        put_string(bytes, "k");
        put<std::uint32_t>(bytes, 77);
        CHECK_THAT(error_for(bytes), Contains("unknown value type 77") && Contains("byte 33"));
    }
    SECTION("an unknown ggml type opens; the tensor is listed with its id and reading it says why not") {
        write_bytes(path, gguf_with_tensor(2, {32, 2}, 99, 0, 256));
        const auto file = open_model_file(path);
        const auto& info = file->tensor("w");
        CHECK(info.dtype == DType::Unknown);
        CHECK(stored_type_name(info) == "ggml type 99 (unknown)");
        CHECK(info.byte_size == 256);  // up to the end of the data: the layout is all it has
        CHECK_THROWS_WITH(file->read_f32(info), Contains("ggml type 99") && Contains("cannot decode"));
    }
    SECTION("too many dimensions") {
        CHECK_THAT(error_for(gguf_with_tensor(5, {1, 1, 1, 1, 1}, 0, 0, 64)), Contains("n_dims"));
    }
    SECTION("row length not a whole number of blocks") {
        CHECK_THAT(error_for(gguf_with_tensor(2, {16, 2}, 2, 0, 64)),
                   Contains("multiple of the Q4_0 block size 32"));
    }
    SECTION("misaligned offset") {
        CHECK_THAT(error_for(gguf_with_tensor(1, {8}, 0, 4, 64)), Contains("alignment"));
    }
    SECTION("data outside the file") {
        CHECK_THAT(error_for(gguf_with_tensor(2, {32, 64}, 0, 0, 256)), Contains("outside"));
    }
    SECTION("shape overflow") {
        CHECK_THAT(error_for(gguf_with_tensor(3, {1ull << 40, 1ull << 40, 1ull << 40}, 0, 0, 64)),
                   Contains("overflows"));
    }
}

TEST_CASE("malformed npy and npz give clear errors") {
    ScratchDir dir;
    auto path = dir.file("bad");
    auto error_for = [&](const std::string& bytes) {
        write_bytes(path, bytes);
        return open_error(path);
    };
    auto npy = [](const std::string& dict, std::size_t data) {
        std::string out = "\x93NUMPY\x01";
        out += '\0';
        put<std::uint16_t>(out, static_cast<std::uint16_t>(dict.size()));
        return out + dict + std::string(data, '\0');
    };
    REQUIRE(error_for(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24)) == "no error");
    CHECK_THAT(error_for(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20)),
               Contains("needs 24"));
    CHECK_THAT(error_for(npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16)),
               Contains("unsupported descr '<c8'"));
    CHECK_THAT(error_for(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8)),
               Contains("quoted string"));
    CHECK_THAT(error_for(npy("{'descr': '<f4', 'shape': (2,), }", 8)), Contains("'fortran_order'"));
    CHECK_THAT(
        error_for(npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999), }",
            8)),
        Contains("overflows"));
    std::string version9 = npy("{}", 0);
    version9[6] = 9;
    CHECK_THAT(error_for(version9), Contains("version 9"));

    // npz: corrupt the CRC-32 of a deflated member; claim an impossible inflated size.
    std::string npz = read_bytes(sample_path("tiny-gpt2-block0.npz"));
    auto archive = std::span<const std::byte>(reinterpret_cast<const std::byte*>(npz.data()), npz.size());
    auto members = parse_zip_directory(archive, "x.npz");
    REQUIRE(members.size() > 3);
    REQUIRE(members[0].method == 8);
    std::string corrupt = npz;
    corrupt[members[0].data_offset + members[0].compressed_size / 2] ^= 0x55;
    CHECK_THAT(error_for(corrupt), Contains("member \"") && (Contains("corrupt") || Contains("CRC")));
    std::string bomb = npz;
    auto eocd = bomb.rfind(std::string("PK\x05\x06", 4));
    std::uint32_t directory_offset;
    std::memcpy(&directory_offset, bomb.data() + eocd + 16, 4);
    std::uint32_t huge = 0xFFFFFFF0;
    std::memcpy(bomb.data() + directory_offset + 24, &huge, 4);  // first entry's uncompressed size
    CHECK_THAT(error_for(bomb), Contains("more than deflate can produce"));
    std::string encrypted = npz;
    encrypted[directory_offset + 8] |= 1;
    CHECK_THAT(error_for(encrypted), Contains("encrypted"));
}

TEST_CASE("malformed ONNX and HDF5 give clear errors") {
    ScratchDir dir;
    auto path = dir.file("bad.onnx");
    write_bytes(path, std::string("\x08\x07\x12\xff\xff\xff\xff\x0f garbage", 17));
    CHECK_THAT(open_error(path), Contains("bad.onnx") && Contains("protobuf"));
    // external data that tries to leave the model's folder
    std::string model = read_bytes(data_path("onnx-external/gemm.onnx"));
    auto at = model.find("gemm.weights");
    REQUIRE(at != std::string::npos);
    model.replace(at, 12, "../../x.bin1");
    write_bytes(path, model);
    CHECK_THAT(open_error(path), Contains("leaves the model's folder"));
    // HDF5 signature followed by garbage
    auto h5 = dir.file("bad.h5");
    write_bytes(h5, std::string("\x89HDF\r\n\x1a\n", 8) + std::string(200, '\x01'));
    CHECK_THAT(open_error(h5), Contains("bad.h5") && Contains("HDF5"));
    // a Keras 3 archive is recognised and explained
    ScratchDir zip_dir;
    std::vector<float> values{1};
    write_npz(zip_dir.file("k.keras"), {{"config.json", DType::F32, {1}, as_bytes_of(values)}});
    CHECK(open_error(zip_dir.file("k.keras")) ==
          "no error");  // member "config.json.npy" is an array, not Keras
}

TEST_CASE("unrecognised and missing files name themselves") {
    CHECK_THAT(open_error(data_path("not_a_model.txt")),
               Contains("not_a_model.txt") && Contains("unrecognised format"));
    CHECK_THAT(open_error(data_path("does-not-exist.gguf")),
               Contains("does-not-exist.gguf") && Contains("no such file"));
}

TEST_CASE("inputs that once crashed a fuzzer now give errors") {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(std::string(QUANTLENS_TEST_DATA) +
                                                                           "/../fuzz/regressions")) {
        if (!entry.is_regular_file())
            continue;
        INFO(entry.path());
        std::string text = read_bytes(entry.path().string());
        if (entry.path().parent_path().filename() == "keras_graph") {  // a whole model_config
            nn::KerasWeights weights;
            weights.find = [](const std::string&, const std::vector<std::string>&) {
                return std::nullopt;
            };
            CHECK_THROWS_AS(
                nn::keras_graph(parse_untrusted_json(text, "x.h5", "model_config"), weights, "x.h5"), Error);
            continue;
        }
        CHECK_THROWS_AS(parse_safetensors_index(text, "x.json"), Error);
        CHECK_THROWS_AS(keras_layers(text, {}, "x.h5"), Error);
    }
    CHECK_THROWS_WITH(parse_safetensors_index(R"({"weight_map": {"a": 1e99999}})", "x.json"),
                      Contains("x.json") && Contains("malformed JSON"));
}
