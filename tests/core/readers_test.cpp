#include <catch2/catch.hpp>

#include "io/gguf.hpp"
#include "model/model.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

TEST_CASE("formats are detected from content, not the extension") {
    ScratchDir dir;
    auto renamed = dir.file("weights.bin");
    std::filesystem::copy_file(sample_path("tiny-gpt2.gguf"), renamed);
    CHECK(detect_format(renamed) == "gguf");
    std::filesystem::copy_file(sample_path("digits-mlp.h5"), dir.file("model.safetensors"));
    CHECK(detect_format(dir.file("model.safetensors")) == "hdf5");
    CHECK(open_model_file(dir.file("model.safetensors"))->format() == "keras-h5");
    CHECK(detect_format(sample_path("tiny-gpt2")) == "huggingface folder");
    CHECK(detect_format(sample_path("digits-mlp-constants.onnx")) == "onnx");
    CHECK(detect_format(sample_path("tiny-gpt2-block0.npz")) == "npz");
}

TEST_CASE("a Hugging Face GPT-2 folder yields layers with Conv1D weights turned output-first") {
    auto model = Model::open(sample_path("tiny-gpt2"));
    CHECK(model.architecture() == "gpt2");
    CHECK(model.file().tensors().size() == 28);
    const auto& qkv = model.layer("transformer.h.0.attn.c_attn");
    CHECK(qkv.kind == LayerKind::Linear);
    CHECK(qkv.orientation == Orientation::InOut);
    REQUIRE(qkv.bias.has_value());
    auto weights = model.read_weights(qkv);
    CHECK(weights.shape == std::vector<std::int64_t>{192, 64});
    auto stored = model.file().read_f32(model.file().tensor("transformer.h.0.attn.c_attn.weight"));
    CHECK(stored.zero_copy());  // F32 safetensors are mapped, not copied
    // out-first element [o][i] is stored element [i][o]
    CHECK(weights.values()[5 * 64 + 7] == stored.values()[7 * 192 + 5]);
    CHECK(model.layer("transformer.wte").kind == LayerKind::Embedding);
    CHECK(model.layer("transformer.h.1.ln_2").kind == LayerKind::Norm);
    // file order, not alphabetical: the embeddings come first
    CHECK(model.layers().front().name == "transformer.wte");
}

TEST_CASE("a Keras .h5 yields Dense layers from model_config with [in, out] kernels") {
    auto model = Model::open(sample_path("digits-mlp.h5"));
    CHECK(model.file().format() == "keras-h5");
    CHECK(model.architecture() == "Sequential");
    REQUIRE(model.layers().size() == 2);
    const auto& dense = model.layers()[0];
    CHECK(dense.name == "dense");
    CHECK(dense.op == "Dense");
    CHECK(dense.kind == LayerKind::Linear);
    CHECK(dense.weight == "model_weights/dense/dense/kernel:0");
    CHECK(dense.bias == std::optional<std::string>("model_weights/dense/dense/bias:0"));
    CHECK(model.read_weights(dense).shape == std::vector<std::int64_t>{32, 64});
}

TEST_CASE("ONNX weights held in Constant nodes are read, with MatMul+Add as a layer") {
    auto model = Model::open(sample_path("digits-mlp-constants.onnx"));
    REQUIRE(model.layers().size() == 2);
    const auto& fc1 = model.layers()[0];
    CHECK(fc1.name == "fc1");
    CHECK(fc1.weight == "fc1.w");
    CHECK(fc1.bias == std::optional<std::string>("fc1.b"));
    CHECK(fc1.orientation == Orientation::InOut);
    CHECK(model.read_weights(fc1).shape == std::vector<std::int64_t>{32, 64});
    // Same trained net as the Keras sample: identical output-first weights.
    auto keras = Model::open(sample_path("digits-mlp.h5"));
    auto a = model.read_weights(fc1), b = keras.read_weights(keras.layers()[0]);
    CHECK(std::equal(a.values().begin(), a.values().end(), b.values().begin(), b.values().end()));
}

TEST_CASE("ONNX external data files are mapped and Gemm transB=1 stays output-first") {
    auto model = Model::open(data_path("onnx-external/gemm.onnx"));
    REQUIRE(model.layers().size() == 1);
    CHECK(model.layers()[0].orientation == Orientation::OutFirst);
    auto weights = model.read_weights(model.layers()[0]);
    CHECK(weights.shape == std::vector<std::int64_t>{32, 64});
    CHECK(weights.stored.zero_copy());
    auto keras = Model::open(sample_path("digits-mlp.h5"));
    auto reference = keras.read_weights(keras.layers()[0]);
    CHECK(std::equal(weights.values().begin(), weights.values().end(), reference.values().begin(),
                     reference.values().end()));
}

TEST_CASE("GGUF tensors dequantize to the values of the reference dequantizers") {
    auto file = open_model_file(sample_path("tiny-gpt2.gguf"));
    CHECK(file->metadata()["general.architecture"] == "gpt2");
    CHECK(file->metadata()["tokenizer.ggml.tokens"] == nlohmann::json({"<a>", "<b>", "<c>"}));
    auto golden = open_model_file(data_path("golden/tiny_gguf_dequantized.npz"));
    for (const char* name :
         {"token_embd.weight", "blk.0.attn_norm.weight", "blk.0.attn_qkv.weight", "blk.0.ffn_up.weight"}) {
        INFO(name);
        std::string key = name;
        std::replace(key.begin(), key.end(), '.', '_');
        auto ours = file->read_f32(file->tensor(name));
        auto expected = golden->read_f32(golden->tensor(key));
        CHECK(file->tensor(name).shape == golden->tensor(key).shape);
        CHECK(std::equal(ours.values().begin(), ours.values().end(), expected.values().begin(),
                         expected.values().end()));
    }
    CHECK(file->tensor("blk.0.attn_qkv.weight").dtype == DType::Q8_0);
    CHECK(file->tensor("blk.0.ffn_up.weight").dtype == DType::Q4_0);
}

TEST_CASE("npz members: deflated, stored, Fortran order, big-endian and bool") {
    auto deflated = open_model_file(sample_path("tiny-gpt2-block0.npz"));
    auto hf = open_model_file(sample_path("tiny-gpt2"));
    auto a = deflated->read_f32(deflated->tensor("h.0.mlp.c_fc.weight"));
    auto b = hf->read_f32(hf->tensor("transformer.h.0.mlp.c_fc.weight"));
    CHECK(std::equal(a.values().begin(), a.values().end(), b.values().begin(), b.values().end()));
    CHECK(deflated->tensor("token_ids").dtype == DType::I64);

    auto stored = open_model_file(data_path("stored.npz"));
    CHECK(stored->read_f32(stored->tensor("w")).zero_copy() ==
          false);  // npy data in a zip is not 4-aligned in general
    auto fortran = stored->read_f32(stored->tensor("fortran"));
    std::vector<float> expected(12);
    for (int i = 0; i < 12; ++i)
        expected[i] = static_cast<float>(i);  // np.arange(12).reshape(3,4), C order
    CHECK(std::vector<float>(fortran.values().begin(), fortran.values().end()) == expected);
    auto big = stored->read_f32(stored->tensor("big"));
    CHECK(std::vector<float>(big.values().begin(), big.values().end()) ==
          std::vector<float>{0, 1, 2, 3, 4, 5});
    auto flags = stored->read_f32(stored->tensor("flags"));
    CHECK(std::vector<float>(flags.values().begin(), flags.values().end()) == std::vector<float>{1, 0, 1});
}

TEST_CASE("sharded safetensors: the index maps tensors to shards in the same folder") {
    ScratchDir dir;
    std::vector<float> a{1, 2, 3, 4}, b{5, 6};
    write_safetensors(dir.file("model-00001-of-00002.safetensors"),
                      {{"layer.weight", DType::F32, {2, 2}, as_bytes_of(a)}});
    write_safetensors(dir.file("model-00002-of-00002.safetensors"),
                      {{"layer.bias", DType::F32, {2}, as_bytes_of(b)}});
    write_bytes(
        dir.file("model.safetensors.index.json"),
        R"({"metadata": {"total_size": 24}, "weight_map": {"layer.weight": "model-00001-of-00002.safetensors", "layer.bias": "model-00002-of-00002.safetensors"}})");
    auto model = Model::open(dir.file("model.safetensors.index.json"));
    REQUIRE(model.layers().size() == 1);
    CHECK(model.layers()[0].bias == std::optional<std::string>("layer.bias"));
    auto folder = Model::open(dir.path().string());
    CHECK(folder.file().tensors().size() == 2);
    auto bias = folder.file().read_f32(folder.file().tensor("layer.bias"));
    CHECK(bias.values()[1] == 6.0f);

    write_bytes(dir.file("model.safetensors.index.json"),
                R"({"weight_map": {"layer.weight": "model-00002-of-00002.safetensors"}})");
    CHECK_THROWS_WITH(Model::open(dir.file("model.safetensors.index.json")),
                      Catch::Contains("layer.weight") && Catch::Contains("no tensor"));
    write_bytes(dir.file("model.safetensors.index.json"), R"({"weight_map": {"x": "../../etc/passwd"}})");
    CHECK_THROWS_WITH(Model::open(dir.file("model.safetensors.index.json")),
                      Catch::Contains("plain file name"));
}

TEST_CASE("a Hugging Face folder with only pickle weights says what to do") {
    ScratchDir dir;
    write_bytes(dir.file("config.json"), R"({"model_type": "llama"})");
    write_bytes(dir.file("pytorch_model.bin"), "PK");
    CHECK_THROWS_WITH(Model::open(dir.path().string()),
                      Catch::Contains("pytorch_model.bin") && Catch::Contains("safetensors"));
}

TEST_CASE("Keras conv and depthwise kernels are reordered to output channels first") {
    // [kh=1, kw=2, in=2, out=3], value = 1000*kh + 100*kw + 10*in + out
    std::vector<float> conv;
    for (int kw = 0; kw < 2; ++kw)
        for (int in = 0; in < 2; ++in)
            for (int out = 0; out < 3; ++out)
                conv.push_back(static_cast<float>(100 * kw + 10 * in + out));
    auto turned = reorient(conv, {1, 2, 2, 3}, Orientation::KerasConv);
    CHECK(normalised_shape({1, 2, 2, 3}, Orientation::KerasConv) == std::vector<std::int64_t>{3, 2, 1, 2});
    // [out][in][kh][kw]: out=2, in=1, kh=0, kw=1 -> 100 + 10 + 2
    CHECK(turned[((2 * 2 + 1) * 1 + 0) * 2 + 1] == 112.0f);
    // depthwise [kh=1, kw=2, in=2, mult=3] -> [6, 1, 1, 2]; channel = in*3 + m
    auto depthwise = reorient(conv, {1, 2, 2, 3}, Orientation::KerasDepthwise);
    CHECK(normalised_shape({1, 2, 2, 3}, Orientation::KerasDepthwise) ==
          std::vector<std::int64_t>{6, 1, 1, 2});
    CHECK(depthwise[(1 * 3 + 2) * 2 + 1] == 112.0f);
}
