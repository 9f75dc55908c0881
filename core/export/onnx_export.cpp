#include "export/onnx_export.hpp"

#include <fcntl.h>
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>
#include <onnx/version_converter/convert.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>

#include "io/onnx_graph.hpp"
#include "io/output_marker.hpp"
#include "tensor/stored_quantization.hpp"
#include "util/atomic_file.hpp"

namespace quantlens {

namespace {

constexpr int kPerAxisOpset = 13;       // DequantizeLinear's axis attribute
constexpr int kBlockedOpset = 21;       // its block_size attribute and the INT4/UINT4 types
constexpr int kNewestConvertible = 17;  // the last opset Debian's libonnx (1.12) knows

onnx::ModelProto parse_model(const std::string& path) {
    onnx::ModelProto model;
    const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (descriptor < 0)
        throw Error(path, "", std::string("cannot open: ") + std::strerror(errno));
    const bool parsed = model.ParseFromFileDescriptor(descriptor);
    ::close(descriptor);
    if (!parsed)
        throw Error(path, "", "not a valid ONNX ModelProto");
    return model;
}

int default_opset(const nlohmann::json& metadata) {
    return metadata.value("opset.ai.onnx", 0);
}

bool power_of_two(std::int64_t n) {
    return n > 0 && (n & (n - 1)) == 0;
}

// What one planned layer becomes, decided before anything is written.
struct Decision {
    const Layer* layer = nullptr;
    QuantSpec spec;
    bool keep = false;     // an f32 spec: the weight stays as it is
    bool blocked = false;  // groups along the input axis (QDQ: opset 21)
};

// Why `spec` cannot be written in `format` for this layer; empty when it can.
std::string refusal(const Model& model, const Layer& layer, const QuantSpec& spec, std::string_view format,
                    bool& blocked) {
    const auto& info = model.file().tensor(layer.weight);
    blocked = false;
    if (info.quantization)
        return "its weight is already stored quantized (" + info.quantization->form +
               "): the ONNX exporters rewrite float weights";
    if (spec.is_cast())
        return spec.format == QuantFormat::F32
                   ? ""
                   : spec.to_string() +
                         " is a cast: ONNX holds it as a weight of that type, which "
                         "QuantLens does not write (use f32 to keep the layer)";
    if (const auto why = needs_calibration(spec); !why.empty())
        return why;
    if (spec.format != QuantFormat::Int)
        return std::string(format) + " holds integer grids (int2–int8); " + spec.to_string() + " is not one";
    if (layer.orientation != Orientation::OutFirst && layer.orientation != Orientation::InOut)
        return "its weight layout (" + std::string(orientation_name(layer.orientation)) + ") is not ONNX's";
    if (format == "onnx-matmulnbits") {
        if (layer.op != "MatMul" || layer.orientation != Orientation::InOut || info.shape.size() != 2)
            return "MatMulNBits replaces a MatMul on a [K, N] weight; this layer is " +
                   (layer.op.empty() ? std::string("not a MatMul") : layer.op);
        if (spec.bits != 2 && spec.bits != 4 && spec.bits != 8)
            return "MatMulNBits holds 2, 4 or 8 bits, not " + std::to_string(spec.bits);
        if (spec.granularity != Granularity::Group || !power_of_two(spec.group_size) || spec.group_size < 16)
            return "MatMulNBits quantizes in blocks of a power of two ≥ 16 along K: use g16, g32, g64, g128, "
                   "…";
        if (info.dtype != DType::F32)
            return "MatMulNBits's scales take its input's type; this weight is " +
                   std::string(dtype_name(info.dtype)) + ", QuantLens writes float32 scales";
        blocked = true;
        return "";
    }
    if (spec.granularity == Granularity::Group) {
        if (info.shape.size() != 2)
            return "DequantizeLinear's blocks run along one axis: groups need a 2-D weight, this one is " +
                   shape_text(info.shape) + " (use channel)";
        blocked = true;
        if (default_opset(model.file().metadata()) < kBlockedOpset)
            return "groups need DequantizeLinear's block_size (opset 21), and this model is opset " +
                   std::to_string(default_opset(model.file().metadata())) +
                   ", past what ONNX's version converter here (1.12) raises to (17): use channel, or "
                   "onnx-matmulnbits for a MatMul";
    }
    return "";
}

std::vector<Decision> decide(const Model& model, const std::vector<LayerAssignment>& assignments,
                             std::string_view format, const std::string& out_path) {
    const auto& file = model.file();
    if (file.format() != "onnx")
        throw Error(out_path, std::string(format),
                    "rewrites ONNX models; " + file.path() + " is " + std::string(file.format()) +
                        " (export it with --format gguf, fakequant or safetensors-packed)");
    if (default_opset(file.metadata()) == 0)
        throw Error(file.path(), "opset_import", "the model imports no ai.onnx opset");
    ExportChecks checks;
    std::vector<Decision> decisions;
    for (const auto& [layer, spec] : assignments) {
        Decision decision{layer, spec};
        const auto why = refusal(model, *layer, spec, format, decision.blocked);
        if (!why.empty())
            checks.fail(layer->name, why);
        decision.keep = spec.format == QuantFormat::F32;
        decisions.push_back(decision);
    }
    checks.throw_if_failed(out_path, std::string(format) + " export");
    return decisions;
}

// A constant of the model by QuantLens's path, where its graph holds it.
struct Constant {
    onnx::GraphProto* graph;
    std::string name;  // as the graph writes it
    onnx::TensorProto* tensor;
};

// Names each node holding a subgraph by the label its paths use (an unnamed Loop is "Loop#2"
// by its index), so the nodes an export inserts do not move the paths of what lies below it.
void pin_subgraph_labels(onnx::GraphProto& graph) {
    std::set<std::string> seen;
    for (int i = 0; i < graph.node_size(); ++i) {
        auto& node = *graph.mutable_node(i);
        const auto label = onnx_node_label(node, i, seen);
        bool holds_graph = false;
        for (auto& attribute : *node.mutable_attribute()) {
            holds_graph |= attribute.has_g() || attribute.graphs_size() > 0;
            if (attribute.has_g())
                pin_subgraph_labels(*attribute.mutable_g());
            for (auto& subgraph : *attribute.mutable_graphs())
                pin_subgraph_labels(subgraph);
        }
        if (holds_graph)
            node.set_name(label);
    }
}

void locate(onnx::GraphProto& graph, const std::string& prefix, std::map<std::string, Constant>& out,
            std::set<std::string>& names) {
    for (auto& initializer : *graph.mutable_initializer()) {
        out[prefix + initializer.name()] = {&graph, initializer.name(), &initializer};
        names.insert(initializer.name());
    }
    for (auto& node : *graph.mutable_node()) {
        for (const auto& output : node.output())
            names.insert(output);
        if (node.op_type() == "Constant" && node.output_size() == 1)
            for (auto& attribute : *node.mutable_attribute())
                if (attribute.name() == "value" && attribute.has_t())
                    out[prefix + node.output(0)] = {&graph, node.output(0), attribute.mutable_t()};
    }
    for (const auto& input : graph.input())
        names.insert(input.name());
    for_each_subgraph(graph, prefix, [&](onnx::GraphProto& subgraph, const std::string& path) {
        locate(subgraph, path, out, names);
    });
}

class OnnxExport {
public:
    OnnxExport(const Model& model, const std::vector<LayerAssignment>& assignments, std::string_view format,
               std::string out, const Progress& progress, const CancelToken* cancel)
        : model_(model),
          format_(format),
          out_(std::move(out)),
          progress_(progress),
          cancel_(cancel),
          decisions_(decide(model, assignments, format, out_)) {}

    ExportSummary run() {
        refuse_to_overwrite_input(model_.file(), out_);
        proto_ = parse_model(model_.file().path());
        summary_.bytes_in = proto_.ByteSizeLong();
        const bool source_valid = passes_checker(proto_);
        raise_opset();
        std::map<std::string, Constant> constants;
        pin_subgraph_labels(*proto_.mutable_graph());
        locate(*proto_.mutable_graph(), "", constants, names_);
        inline_external_data(constants);
        std::uint64_t total = 0, done = 0;
        for (const auto& decision : decisions_)
            total += model_.file().tensor(decision.layer->weight).byte_size;
        for (const auto& decision : decisions_) {
            if (cancel_)
                cancel_->throw_if_cancelled();
            const auto& info = model_.file().tensor(decision.layer->weight);
            if (progress_)
                progress_(done, total, decision.layer->name);
            done += info.byte_size;
            ++summary_.tensors;
            if (decision.keep)
                continue;
            const auto found = constants.find(info.name);
            if (found == constants.end())
                throw Error(model_.file().path(), info.name, "the weight is not a constant of the graph");
            const auto& result = quantizer_.quantize(model_, *decision.layer, decision.spec, cancel_);
            if (format_ == "onnx-qdq")
                write_qdq(found->second, info, *decision.layer, decision, result);
            else
                write_matmulnbits(found->second, info, *decision.layer, decision, result);
            ++summary_.quantized;
        }
        auto* mark = proto_.add_metadata_props();
        mark->set_key(kWriterKey);
        mark->set_value(writer_stamp());
        if (source_valid && !passes_checker(proto_, &checker_error_))
            throw Error(out_, "onnx.checker", "the exported model fails ONNX's checker: " + checker_error_);
        const std::string bytes = proto_.SerializeAsString();
        if (bytes.size() > static_cast<std::size_t>(INT32_MAX))
            throw Error(out_, "", "the exported model is over 2 GiB, more than one protobuf file holds");
        AtomicFile file(out_);
        file.write(bytes.data(), bytes.size());
        file.commit();
        summary_.bytes_out = bytes.size();
        summary_.written.push_back(out_);
        if (progress_)
            progress_(total, total, "");
        return summary_;
    }

private:
    // ONNX's checker and strict shape inference, where this libonnx knows the opsets (≤ 17, IR ≤ 8).
    bool passes_checker(const onnx::ModelProto& model, std::string* error = nullptr) const {
        for (const auto& opset : model.opset_import())
            if ((opset.domain().empty() || opset.domain() == "ai.onnx") &&
                opset.version() > kNewestConvertible)
                return false;
        if (model.ir_version() > 8)
            return false;
        try {
            onnx::checker::check_model(model);
            onnx::ModelProto inferred = model;
            onnx::ShapeInferenceOptions options{true, 1, false};
            onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(), options);
            return true;
        } catch (const std::exception& failure) {
            if (error)
                *error = failure.what();
            return false;
        }
    }

    // A per-axis DequantizeLinear needs opset 13: an older model is converted by ONNX's own
    // version converter, which rewrites the ops whose form changed (Clip's bounds as inputs, ...).
    // Where it cannot (a Softmax whose input rank is known only at run time, say), the
    // DequantizeLinear nodes are onnxruntime's com.microsoft ones, which take an axis at any opset
    // and leave the model's own ops as they are.
    void raise_opset() {
        if (format_ != "onnx-qdq")
            return;
        bool quantizes = false;
        for (const auto& decision : decisions_)
            quantizes |= !decision.keep;
        const int current = default_opset(model_.file().metadata());
        if (!quantizes || current >= kPerAxisOpset)
            return;
        try {
            // The converter rewrites some ops by their input's rank (Softmax 12→13): it needs shapes.
            onnx::ModelProto shaped = proto_;
            onnx::shape_inference::InferShapes(shaped);
            proto_ = onnx::version_conversion::ConvertVersion(shaped, kPerAxisOpset);
            proto_.mutable_graph()
                ->clear_value_info();  // what inference added; the source's own are kept below
            *proto_.mutable_graph()->mutable_value_info() =
                parse_model(model_.file().path()).graph().value_info();
        } catch (const std::exception& failure) {
            std::string why = failure.what();
            if (const auto cut = why.find(": "); cut != std::string::npos)
                why = why.substr(why.rfind(": ") + 2);  // past the converter's source position
            microsoft_dequantize_ = true;
            add_opset("com.microsoft", 1);
            summary_.warnings.push_back(
                "the model is opset " + std::to_string(current) +
                " and ONNX's version converter cannot raise it to 13 (" + why +
                "), so the DequantizeLinear nodes are onnxruntime's com.microsoft ones, "
                "which take an axis at any opset");
            return;
        }
        if (proto_.ir_version() < 7)
            proto_.set_ir_version(7);
        summary_.warnings.push_back("raised the model's opset from " + std::to_string(current) +
                                    " to 13 (DequantizeLinear's axis) with ONNX's version converter");
    }

    void add_opset(const std::string& domain, int version) {
        for (const auto& opset : proto_.opset_import())
            if (opset.domain() == domain)
                return;
        auto* opset = proto_.add_opset_import();
        opset->set_domain(domain);
        opset->set_version(version);
    }

    // External data is written into the one output file (its location is relative to the source).
    void inline_external_data(std::map<std::string, Constant>& constants) {
        for (auto& [path, constant] : constants) {
            auto& tensor = *constant.tensor;
            if (tensor.data_location() != onnx::TensorProto::EXTERNAL)
                continue;
            for (const auto& missing : model_.file().left_out())
                if (missing.name == path)
                    throw Error(out_, path,
                                "its external data could not be read (" + missing.reason +
                                    "), so an export would lose it: restore the file or remove the tensor");
            const auto bytes = model_.file().read(model_.file().tensor(path));
            tensor.set_raw_data(reinterpret_cast<const char*>(bytes.bytes().data()), bytes.bytes().size());
            tensor.clear_external_data();
            tensor.set_data_location(onnx::TensorProto::DEFAULT);
        }
    }

    std::string fresh_name(const std::string& base) {
        std::string name = base;
        for (int k = 1; names_.count(name); ++k)
            name = base + "_" + std::to_string(k);
        names_.insert(name);
        return name;
    }

    // Removes the float weight (initializer or Constant node) from its graph; returns the index
    // a node producing it should take (the Constant's, or 0).
    int remove_weight(const Constant& constant) {
        auto& graph = *constant.graph;
        auto* initializers = graph.mutable_initializer();
        for (int i = 0; i < initializers->size(); ++i)
            if (initializers->Get(i).name() == constant.name) {
                initializers->DeleteSubrange(i, 1);
                auto* inputs = graph.mutable_input();  // IR < 4 lists initializers as inputs too
                for (int k = 0; k < inputs->size(); ++k)
                    if (inputs->Get(k).name() == constant.name)
                        inputs->DeleteSubrange(k--, 1);
                return 0;
            }
        auto* nodes = graph.mutable_node();
        for (int i = 0; i < nodes->size(); ++i)
            if (nodes->Get(i).op_type() == "Constant" && nodes->Get(i).output_size() == 1 &&
                nodes->Get(i).output(0) == constant.name) {
                nodes->DeleteSubrange(i, 1);
                return i;
            }
        return 0;
    }

    static void insert_node(onnx::GraphProto& graph, onnx::NodeProto node, int at) {
        auto* nodes = graph.mutable_node();
        *nodes->Add() = std::move(node);
        for (int i = nodes->size() - 1; i > at; --i)
            nodes->SwapElements(i, i - 1);
    }

    onnx::TensorProto& add_initializer(onnx::GraphProto& graph, const std::string& name, int type,
                                       const std::vector<std::int64_t>& dims) {
        auto& tensor = *graph.add_initializer();
        tensor.set_name(name);
        tensor.set_data_type(type);
        for (auto dim : dims)
            tensor.add_dims(dim);
        return tensor;
    }

    static std::string packed(const std::vector<std::int32_t>& values, int bits) {
        // Little-end first within each byte (ONNX's INT4/UINT4, MatMulNBits' B and zero points).
        std::string bytes((values.size() * static_cast<std::size_t>(bits) + 7) / 8, '\0');
        const unsigned mask = (1u << bits) - 1;
        for (std::size_t i = 0; i < values.size(); ++i) {
            const std::size_t bit = i * static_cast<std::size_t>(bits);
            bytes[bit / 8] = static_cast<char>(static_cast<unsigned char>(bytes[bit / 8]) |
                                               ((static_cast<unsigned>(values[i]) & mask) << (bit % 8)));
        }
        return bytes;
    }

    static std::string float_bytes(const std::vector<float>& values) {
        return {reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)};
    }

    // codes, scales and zero points behind a DequantizeLinear that outputs the weight's name.
    void write_qdq(const Constant& constant, const TensorInfo& info, const Layer& layer,
                   const Decision& decision, const QuantResult& result) {
        const auto& spec = decision.spec;
        const bool in_out = layer.orientation == Orientation::InOut;
        const int rank = static_cast<int>(info.shape.size());
        // Codes in the stored layout ([in, out] for a MatMul weight): integers move as floats exactly.
        std::vector<float> as_float(result.codes.begin(), result.codes.end());
        const auto stored = to_stored_layout(as_float, info.shape, layer.orientation);
        std::vector<std::int32_t> codes(stored.begin(), stored.end());
        const bool nibbles = decision.blocked && spec.bits <= 4;
        const int code_type = spec.symmetric ? (nibbles ? 22 : onnx::TensorProto::INT8)    // INT4
                                             : (nibbles ? 21 : onnx::TensorProto::UINT8);  // UINT4
        std::vector<std::int64_t> scale_dims;
        std::vector<float> scales = result.scales;
        std::vector<std::int32_t> zeros = result.zero_points;
        int axis = 0;
        std::int64_t block = 0;
        if (spec.granularity == Granularity::Channel) {
            scale_dims = {info.shape[in_out ? 1 : 0]};
            axis = in_out ? 1 : 0;
        } else if (decision.blocked) {
            block = spec.group_size;
            const std::int64_t out = result.rows, blocks = (result.cols + block - 1) / block;
            axis = in_out ? 0 : 1;
            scale_dims =
                in_out ? std::vector<std::int64_t>{blocks, out} : std::vector<std::int64_t>{out, blocks};
            if (in_out) {  // the quantizer's groups are row (output channel) major: transpose
                for (std::int64_t o = 0; o < out; ++o)
                    for (std::int64_t b = 0; b < blocks; ++b) {
                        scales[static_cast<std::size_t>(b * out + o)] =
                            result.scales[static_cast<std::size_t>(o * blocks + b)];
                        if (!zeros.empty())
                            zeros[static_cast<std::size_t>(b * out + o)] =
                                result.zero_points[static_cast<std::size_t>(o * blocks + b)];
                    }
            }
        }
        auto& graph = *constant.graph;
        const int at = remove_weight(constant);
        const auto codes_name = fresh_name(constant.name + "_quantized");
        const auto scale_name = fresh_name(constant.name + "_scale");
        auto& code_tensor = add_initializer(graph, codes_name, code_type, info.shape);
        if (nibbles) {
            code_tensor.set_raw_data(packed(codes, 4));
        } else {
            std::string bytes(codes.size(), '\0');
            for (std::size_t i = 0; i < codes.size(); ++i)
                bytes[i] = static_cast<char>(codes[i]);
            code_tensor.set_raw_data(bytes);
        }
        add_initializer(graph, scale_name, onnx::TensorProto::FLOAT, scale_dims)
            .set_raw_data(float_bytes(scales));
        onnx::NodeProto node;
        node.set_op_type("DequantizeLinear");
        if (microsoft_dequantize_)
            node.set_domain("com.microsoft");
        node.set_name(fresh_name(constant.name + "_DequantizeLinear"));
        node.add_input(codes_name);
        node.add_input(scale_name);
        if (!spec.symmetric) {
            const auto zero_name = fresh_name(constant.name + "_zero_point");
            auto& zero_tensor = add_initializer(graph, zero_name, code_type, scale_dims);
            if (nibbles) {
                zero_tensor.set_raw_data(packed(zeros, 4));
            } else {
                std::string bytes(zeros.size(), '\0');
                for (std::size_t i = 0; i < zeros.size(); ++i)
                    bytes[i] = static_cast<char>(zeros[i]);
                zero_tensor.set_raw_data(bytes);
            }
            node.add_input(zero_name);
        }
        node.add_output(constant.name);
        if (spec.granularity != Granularity::Tensor) {
            auto* attribute = node.add_attribute();
            attribute->set_name("axis");
            attribute->set_type(onnx::AttributeProto::INT);
            attribute->set_i(axis);
        }
        if (block) {
            auto* attribute = node.add_attribute();
            attribute->set_name("block_size");
            attribute->set_type(onnx::AttributeProto::INT);
            attribute->set_i(block);
        }
        (void)rank;
        insert_node(graph, std::move(node), at);
    }

    // Each MatMul on the weight becomes MatMulNBits(A, B, scales[, zero_points]).
    void write_matmulnbits(const Constant& constant, const TensorInfo& info, const Layer& layer,
                           const Decision& decision, const QuantResult& result) {
        auto& graph = *constant.graph;
        std::vector<int> matmuls;
        for (int i = 0; i < graph.node_size(); ++i)
            for (const auto& input : graph.node(i).input())
                if (input == constant.name) {
                    const auto& node = graph.node(i);
                    if (node.op_type() != "MatMul" || node.input_size() != 2 ||
                        node.input(1) != constant.name)
                        throw Error(out_, layer.name,
                                    "its weight feeds a " + node.op_type() +
                                        " too; MatMulNBits can replace only MatMuls on it");
                    matmuls.push_back(i);
                }
        const int bits = decision.spec.bits;
        const std::int64_t k = info.shape[0], n = info.shape[1], block = decision.spec.group_size,
                           blocks = (k + block - 1) / block;
        const std::int32_t offset = decision.spec.symmetric ? 1 << (bits - 1) : 0;  // the implied zero point
        std::vector<std::int32_t> blob(static_cast<std::size_t>(n * blocks * block), 0);
        for (std::int64_t row = 0; row < n; ++row)
            for (std::int64_t col = 0; col < k; ++col)
                blob[static_cast<std::size_t>(row * blocks * block + col)] =
                    result.codes[static_cast<std::size_t>(row * k + col)] + offset;
        remove_weight(constant);
        const auto b_name = fresh_name(constant.name + "_Q" + std::to_string(bits));
        const auto scale_name = fresh_name(constant.name + "_scales");
        add_initializer(graph, b_name, onnx::TensorProto::UINT8, {n, blocks, block * bits / 8})
            .set_raw_data(packed(blob, bits));
        add_initializer(graph, scale_name, onnx::TensorProto::FLOAT, {n * blocks})
            .set_raw_data(float_bytes(result.scales));
        std::string zero_name;
        if (!decision.spec.symmetric) {
            zero_name = fresh_name(constant.name + "_zero_points");
            const std::int64_t per_row = (blocks * bits + 7) / 8 * 8 / bits;  // rows start at a byte
            std::vector<std::int32_t> zeros(static_cast<std::size_t>(n * per_row), 0);
            for (std::int64_t row = 0; row < n; ++row)
                for (std::int64_t b = 0; b < blocks; ++b)
                    zeros[static_cast<std::size_t>(row * per_row + b)] =
                        result.zero_points[static_cast<std::size_t>(row * blocks + b)];
            add_initializer(graph, zero_name, onnx::TensorProto::UINT8, {n * ((blocks * bits + 7) / 8)})
                .set_raw_data(packed(zeros, bits));
        }
        for (int index : matmuls) {
            auto& node = *graph.mutable_node(index);
            node.set_op_type("MatMulNBits");
            node.set_domain("com.microsoft");
            node.set_input(1, b_name);
            node.add_input(scale_name);
            if (!zero_name.empty())
                node.add_input(zero_name);
            for (const auto& [name, value] : std::initializer_list<std::pair<const char*, std::int64_t>>{
                     {"K", k}, {"N", n}, {"bits", bits}, {"block_size", block}}) {
                auto* attribute = node.add_attribute();
                attribute->set_name(name);
                attribute->set_type(onnx::AttributeProto::INT);
                attribute->set_i(value);
            }
        }
        add_opset("com.microsoft", 1);
    }

    const Model& model_;
    std::string format_, out_;
    const Progress& progress_;
    const CancelToken* cancel_;
    std::vector<Decision> decisions_;
    onnx::ModelProto proto_;
    std::set<std::string> names_;
    PlannedLayerQuantizer quantizer_;
    ExportSummary summary_;
    std::string checker_error_;
    bool microsoft_dequantize_ = false;
};

}  // namespace

bool is_onnx_export(std::string_view format) {
    return format == "onnx-qdq" || format == "onnx-matmulnbits";
}

void check_onnx_export(const Model& model, const std::vector<LayerAssignment>& assignments,
                       std::string_view format, const std::string& out_path) {
    decide(model, assignments, format, out_path);
}

ExportSummary export_onnx(const Model& model, const std::vector<LayerAssignment>& assignments,
                          std::string_view format, const std::string& out_path, const Progress& progress,
                          const CancelToken* cancel) {
    return OnnxExport(model, assignments, format, out_path, progress, cancel).run();
}

}  // namespace quantlens
