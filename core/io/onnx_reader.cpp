#include <fcntl.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <filesystem>
#include <map>
#include <set>

#include "io/onnx.hpp"
#include "io/onnx_graph.hpp"
#include "io/onnx_quantized.hpp"
#include "util/error.hpp"
#include "util/mapped_file.hpp"
#include "util/paths.hpp"
#include "util/utf8.hpp"

namespace quantlens {

namespace fs = std::filesystem;

namespace {

std::optional<DType> dtype_of_onnx(int type) {
    using T = onnx::TensorProto;
    switch (type) {
        case T::FLOAT: return DType::F32;
        case T::UINT8: return DType::U8;
        case T::INT8: return DType::I8;
        case T::UINT16: return DType::U16;
        case T::INT16: return DType::I16;
        case T::INT32: return DType::I32;
        case T::INT64: return DType::I64;
        case T::BOOL: return DType::BOOL;
        case T::FLOAT16: return DType::F16;
        case T::DOUBLE: return DType::F64;
        case T::UINT32: return DType::U32;
        case T::UINT64: return DType::U64;
        case T::BFLOAT16: return DType::BF16;
        case 17: return DType::F8_E4M3;      // FLOAT8E4M3FN (IR v9)
        case 18: return DType::F8_E4M3FNUZ;  // FLOAT8E4M3FNUZ
        case 19: return DType::F8_E5M2;      // FLOAT8E5M2
        case 20: return DType::F8_E5M2FNUZ;  // FLOAT8E5M2FNUZ
        case 21: return DType::U4;           // UINT4 (IR v10)
        case 22: return DType::I4;           // INT4
        default: return std::nullopt;
    }
}

// The name onnx.proto gives a TensorProto.DataType, for messages.
std::string onnx_type_name(int type) {
    static const char* const kNames[] = {
        "UNDEFINED",      "FLOAT",      "UINT8",          "INT8",       "UINT16",   "INT16",
        "INT32",          "INT64",      "STRING",         "BOOL",       "FLOAT16",  "DOUBLE",
        "UINT32",         "UINT64",     "COMPLEX64",      "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN",
        "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4",      "INT4",     "FLOAT4E2M1"};
    if (type >= 0 && type < static_cast<int>(std::size(kNames)))
        return kNames[type];
    return std::to_string(type);
}

template <class Field>
std::vector<std::byte> pack(const Field& values, std::size_t width, std::size_t count) {
    std::vector<std::byte> bytes(count * width);
    for (std::size_t i = 0; i < count; ++i) {
        auto value = values.Get(static_cast<int>(i));
        std::memcpy(bytes.data() + i * width, &value, width);  // little-endian: low bytes first
    }
    return bytes;
}

struct External {
    std::string file;
    std::uint64_t offset = 0, length = 0;
    bool has_length = false;
};

class OnnxModel final : public ModelFile {
public:
    explicit OnnxModel(const std::string& path)
        : ModelFile(path), proto_(std::make_shared<onnx::ModelProto>()) {
        // Read through a small buffer, not a mapping: protobuf copies every raw_data into the
        // parsed message, so a mapping of the whole file beside it would double the peak memory.
        std::error_code error;
        const auto size = fs::file_size(path, error);
        if (error)
            throw Error(path, "", "cannot read: " + error.message());
        if (size > static_cast<std::uintmax_t>(INT32_MAX))
            throw Error(path, "",
                        "protobuf cannot hold more than 2 GiB; ONNX models this large keep their weights in "
                        "external data files");
        const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (descriptor < 0)
            throw Error(path, "", std::string("cannot open: ") + std::strerror(errno));
        const bool parsed = proto_->ParseFromFileDescriptor(descriptor);
        ::close(descriptor);
        if (!parsed)
            throw Error(path, "",
                        "not a valid ONNX ModelProto (protobuf parsing failed: not a ModelProto, or messages "
                        "nested deeper than protobuf's limit of 100, about 33 levels of subgraphs)");
        if (!proto_->has_graph())
            throw Error(path, "graph", "the model has no graph");
        metadata_["ir_version"] = proto_->ir_version();
        metadata_["producer_name"] = proto_->producer_name();
        metadata_["producer_version"] = proto_->producer_version();
        for (const auto& opset : proto_->opset_import())
            metadata_["opset." + (opset.domain().empty() ? std::string("ai.onnx") : opset.domain())] =
                opset.version();
        walk(proto_->graph(), "", nullptr, 0);
    }
    std::string_view format() const override { return "onnx"; }

protected:
    TensorBytes read_bytes(const TensorInfo& info) const override {
        const auto& [tensor, external] = sources_.at(info.name);
        if (external) {
            auto file = mapped(external->file);
            return TensorBytes::file_view(
                file, file->range(external->offset, info.byte_size, info.name + " external data"));
        }
        if (tensor->has_raw_data()) {
            const std::string& raw = tensor->raw_data();
            return TensorBytes::view(proto_, {reinterpret_cast<const std::byte*>(raw.data()), raw.size()});
        }
        const std::size_t n = static_cast<std::size_t>(info.elements()),
                          width = dtype_info(info.dtype).block_bytes;
        switch (info.dtype) {
            case DType::F32: return TensorBytes::owned(pack(tensor->float_data(), 4, n));
            case DType::F64: return TensorBytes::owned(pack(tensor->double_data(), 8, n));
            case DType::I64: return TensorBytes::owned(pack(tensor->int64_data(), 8, n));
            case DType::U32:
            case DType::U64: return TensorBytes::owned(pack(tensor->uint64_data(), width, n));
            default:
                return TensorBytes::owned(
                    pack(tensor->int32_data(), width, n));  // narrower types live in int32_data
        }
    }

private:
    // The tensor a constant holds, readable (sources_) but not yet listed; nullopt when it is left
    // out (left_out_ says why, once however often it is asked for).
    std::optional<TensorInfo> describe(const onnx::TensorProto& tensor, const std::string& name,
                                       const std::string& where) {
        if (const auto known = described_.find(name); known != described_.end())
            return known->second;
        auto info = read_header(tensor, name, where);
        described_[name] = info;
        return info;
    }

    std::optional<TensorInfo> read_header(const onnx::TensorProto& tensor, const std::string& name,
                                          const std::string& where) {
        const std::string field = where + " tensor \"" + name + "\"";
        if (!valid_utf8(name))
            throw Error(path_, where, "tensor name is not valid UTF-8");
        TensorInfo info;
        info.name = name;
        for (auto dim : tensor.dims()) {
            if (dim < 0)
                throw Error(path_, field + " dims", "negative dimension " + std::to_string(dim));
            info.shape.push_back(dim);
        }
        auto elements = element_count(info.shape);
        const auto dtype = dtype_of_onnx(tensor.data_type());
        if (!dtype) {  // the file still opens; the summaries say what is missing and why
            left_out_.push_back(
                {name, elements.value_or(0),
                 "ONNX data type " + onnx_type_name(tensor.data_type()) + " is not one QuantLens decodes"});
            return std::nullopt;
        }
        info.dtype = *dtype;
        if ((info.dtype == DType::I4 || info.dtype == DType::U4) && !tensor.has_raw_data() &&
            tensor.data_location() != onnx::TensorProto::EXTERNAL) {
            left_out_.push_back({name, info.elements(),
                                 onnx_type_name(tensor.data_type()) +
                                     " values in int32_data (not raw_data or external data) are not read"});
            return std::nullopt;
        }
        auto bytes = elements ? storage_bytes(info.dtype, *elements) : std::nullopt;
        if (!bytes)
            throw Error(path_, field + " dims", "element count overflows 64 bits");
        info.byte_size = *bytes;
        std::optional<External> external;
        if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
            external = parse_external(tensor, field);
            if (external->has_length && external->length != info.byte_size)
                throw Error(path_, field + " external_data length",
                            std::to_string(external->length) + " bytes, but dims need " +
                                std::to_string(info.byte_size));
            std::shared_ptr<const MappedFile> file;
            try {
                file = mapped(external->file);
            } catch (const Error& error) {  // a missing or unreadable data file leaves this tensor out
                left_out_.push_back({name, info.elements(),
                                     "external data file \"" + fs::path(external->file).filename().string() +
                                         "\" cannot be read: " + error.reason()});
                return std::nullopt;
            }
            file->range(external->offset, info.byte_size, field + " external data");  // bounds check now
        } else if (tensor.has_raw_data()) {
            if (tensor.raw_data().size() != info.byte_size)
                throw Error(path_, field + " raw_data",
                            "holds " + std::to_string(tensor.raw_data().size()) + " bytes, dims need " +
                                std::to_string(info.byte_size));
        } else {
            std::size_t stored = info.dtype == DType::F32   ? tensor.float_data_size()
                                 : info.dtype == DType::F64 ? tensor.double_data_size()
                                 : info.dtype == DType::I64 ? tensor.int64_data_size()
                                 : (info.dtype == DType::U32 || info.dtype == DType::U64)
                                     ? tensor.uint64_data_size()
                                     : tensor.int32_data_size();
            if (stored != info.elements())
                throw Error(path_, field,
                            "holds " + std::to_string(stored) + " values, dims need " +
                                std::to_string(info.elements()));
        }
        sources_[name] = {&tensor, external};
        return info;
    }

    External parse_external(const onnx::TensorProto& tensor, const std::string& field) const {
        External external;
        for (const auto& entry : tensor.external_data()) {
            try {
                if (entry.key() == "location")
                    external.file = entry.value();
                else if (entry.key() == "offset")
                    external.offset = std::stoull(entry.value());
                else if (entry.key() == "length") {
                    external.length = std::stoull(entry.value());
                    external.has_length = true;
                }
            } catch (const std::exception&) {
                throw Error(path_, field + " external_data " + entry.key(),
                            "\"" + entry.value() + "\" is not a byte count");
            }
        }
        fs::path location(external.file);
        if (external.file.empty())
            throw Error(path_, field + " external_data", "has no location");
        for (const auto& part : location)
            if (part == "..")
                throw Error(path_, field + " external_data location",
                            "\"" + external.file + "\" leaves the model's folder");
        if (location.is_absolute())
            throw Error(path_, field + " external_data location",
                        "must be relative to the model's folder, found \"" + external.file + "\"");
        const fs::path folder = fs::path(path_).parent_path();
        external.file = (folder / location).string();
        // Lexically inside is not enough: a symbolic link in the folder may point anywhere.
        if (!same_or_inside(external.file, folder.empty() ? "." : folder.string()))
            throw Error(path_, field + " external_data location",
                        "\"" + location.string() +
                            "\" resolves (through a symbolic link) to a file outside the model's folder");
        return external;
    }

    std::shared_ptr<const MappedFile> mapped(const std::string& file) const {
        std::lock_guard lock(mutex_);
        auto& slot = external_files_[file];
        if (!slot)
            slot = MappedFile::open(file);
        return slot;
    }

    // What a graph's names mean: its own initializers and Constant outputs first, then those of
    // the graphs around it (ONNX's scoping: a subgraph sees every name of its enclosing graphs).
    struct Scope {
        const Scope* parent = nullptr;
        std::unordered_map<std::string, std::string> names;  // as written in the graph → tensor path
        std::string resolve(const std::string& name) const {
            for (const Scope* scope = this; scope; scope = scope->parent)
                if (const auto found = scope->names.find(name); found != scope->names.end())
                    return found->second;
            return {};
        }
    };
    // If/Loop/Scan nesting. protobuf's parser already stops at 100 nested messages (about 33
    // subgraph levels); this bounds the walk's recursion should that limit ever be raised.
    static constexpr int kMaxDepth = 64;

    // Every weight of `graph` and of each subgraph (any GRAPH or GRAPHS attribute: If branches,
    // Loop and Scan bodies, to any depth), a subgraph's named by its path,
    // "<node>/<attribute>/<tensor>", its node named by name or as "<op>#<index>". A weight stored
    // quantized (onnx_quantized.hpp) is listed once, dequantized, in place of its parts.
    void walk(const onnx::GraphProto& graph, const std::string& prefix, const Scope* parent, int depth) {
        if (depth > kMaxDepth)
            throw Error(path_, prefix, "subgraphs nested more than " + std::to_string(kMaxDepth) + " deep");
        Scope scope{parent, {}};
        struct Local {
            std::string written, path, where;
            const onnx::TensorProto* tensor;
        };
        std::vector<Local> locals;
        for (const auto& initializer : graph.initializer())
            locals.push_back({initializer.name(), prefix + initializer.name(), "initializer", &initializer});
        for (const auto& node : graph.node()) {
            if (node.op_type() != "Constant" || node.output_size() != 1)
                continue;
            for (const auto& attribute : node.attribute())
                if (attribute.name() == "value" && attribute.has_t())
                    locals.push_back({node.output(0), prefix + node.output(0),
                                      "Constant node \"" + prefix + node.name() + "\"", &attribute.t()});
        }
        for (const auto& local : locals) {
            constants_[local.path] = {local.tensor, local.where};
            scope.names[local.written] = local.path;
        }
        const auto quantized = find_quantized_weights(
            graph,
            [&](const std::string& written) -> std::optional<TensorInfo> {
                const auto found = constants_.find(written.empty() ? std::string() : scope.resolve(written));
                if (found == constants_.end())
                    return std::nullopt;
                return describe(*found->second.first, found->first, found->second.second);
            },
            path_);
        std::set<std::string> parts;
        for (const auto& weight : quantized)
            for (const auto* q :
                 {&weight.quantization, weight.quantized_bias ? &*weight.quantized_bias : nullptr})
                if (q)
                    for (const auto* part : {&q->codes, &q->scales})
                        parts.insert(part->name);
        for (const auto& weight : quantized)
            for (const auto* part : {&weight.quantization.zero_points, &weight.quantization.group_index})
                if (*part)
                    parts.insert((*part)->name);
        for (const auto& local : locals) {
            if (parts.count(local.path))
                continue;
            if (auto info = describe(*local.tensor, local.path, local.where))
                list(std::move(*info));
            else
                scope.names.erase(local.written);
        }
        std::map<const onnx::NodeProto*, Layer> fused;
        for (const auto& weight : quantized) {
            if (!weight.error.empty()) {
                left_out_.push_back({weight.quantization.codes.name,
                                     element_count(weight.quantization.shape).value_or(0),
                                     weight.quantization.form + " weight not read: " + weight.error});
                continue;
            }
            const std::string name = list_quantized(weight.quantization);
            if (!weight.output.empty()) {
                scope.names[weight.output] = name;
                continue;
            }
            Layer layer;
            layer.kind = weight.kind;
            layer.orientation = weight.orientation;
            layer.weight = name;
            if (weight.quantized_bias)
                layer.bias = list_quantized(*weight.quantized_bias);
            else if (const auto bias = scope.resolve(weight.bias);
                     !weight.bias.empty() && listed_.count(bias))
                layer.bias = bias;
            // The op's other constants (its input's and output's scales and zero points) are the layer's.
            for (const auto& operand : weight.node->input())
                if (const auto other = scope.resolve(operand); listed_.count(other) &&
                                                               other != layer.weight && other != layer.bias &&
                                                               in_layer_.insert(other).second)
                    layer.others.push_back(other);
            fused[weight.node] = std::move(layer);
        }
        build_layers(graph, prefix, scope, fused);
        for_each_subgraph(graph, prefix, [&](const onnx::GraphProto& subgraph, const std::string& path) {
            walk(subgraph, path, &scope, depth + 1);
        });
    }

    void list(TensorInfo info) {
        listed_.insert(info.name);
        add_tensor(std::move(info));
    }

    // Lists a stored quantization as one float32 tensor named after its codes, once however many
    // nodes dequantize it; "(dequantized)" is added should the codes be listed themselves too (an
    // enclosing graph's, used there as they are).
    std::string list_quantized(const StoredQuantization& quantization) {
        std::string name = quantization.codes.name;
        if (const auto known = quantized_names_.find(name); known != quantized_names_.end())
            return known->second;
        const std::string codes = name;
        if (listed_.count(name))
            name += " (dequantized)";
        TensorInfo info;
        info.name = name;
        info.dtype = DType::F32;
        info.shape = quantization.shape;
        info.byte_size = info.elements() * sizeof(float);
        info.quantization = std::make_shared<const StoredQuantization>(quantization);
        list(std::move(info));
        quantized_names_[codes] = name;
        return name;
    }

    // The layers one graph's nodes make of the weights in scope: a weight already taken by a node
    // (a shared one) makes no second layer.
    // `fused` holds the layers of the ops that take their quantized weight themselves.
    void build_layers(const onnx::GraphProto& graph, const std::string& prefix, const Scope& scope,
                      std::map<const onnx::NodeProto*, Layer>& fused) {
        std::map<std::string, std::vector<const onnx::NodeProto*>> consumers;
        for (const auto& node : graph.node())
            for (const auto& input : node.input())
                consumers[input].push_back(&node);
        auto is_weight = [&](const std::string& name) {
            return !name.empty() && listed_.count(scope.resolve(name));
        };
        auto int_attribute = [](const onnx::NodeProto& node, const std::string& name, long fallback) {
            for (const auto& attribute : node.attribute())
                if (attribute.name() == name)
                    return static_cast<long>(attribute.i());
            return fallback;
        };
        for (const auto& node : graph.node()) {
            const auto& op = node.op_type();
            Layer layer;
            layer.op = op;
            auto input = [&](int i) {
                return node.input_size() > i ? node.input(i) : std::string();
            };
            if (const auto found = fused.find(&node); found != fused.end()) {
                layer = std::move(found->second);
                layer.op = op;
            } else if ((op == "Gemm" || op == "MatMul") && is_weight(input(1))) {
                layer.kind = LayerKind::Linear;
                layer.weight = scope.resolve(input(1));
                bool trans_b = op == "Gemm" && int_attribute(node, "transB", 0) != 0;
                layer.orientation = trans_b ? Orientation::OutFirst : Orientation::InOut;
                if (op == "Gemm" && is_weight(input(2)))
                    layer.bias = scope.resolve(input(2));
                if (op == "MatMul" &&
                    node.output_size() == 1) {  // bias as a following Add (paddle2onnx, torch MatMul+Add)
                    auto found = consumers.find(node.output(0));
                    if (found != consumers.end() && found->second.size() == 1 &&
                        found->second.front()->op_type() == "Add") {
                        const auto& add = *found->second.front();
                        for (const auto& operand : add.input())
                            if (operand != node.output(0) && is_weight(operand))
                                layer.bias = scope.resolve(operand);
                    }
                }
            } else if (op == "Conv" && is_weight(input(1))) {
                layer.kind = LayerKind::Conv;
                layer.weight = scope.resolve(input(1));
                if (is_weight(input(2)))
                    layer.bias = scope.resolve(input(2));
            } else if ((op == "BatchNormalization" || op == "LayerNormalization" ||
                        op == "InstanceNormalization" || op == "SimplifiedLayerNormalization") &&
                       is_weight(input(1))) {
                layer.kind = LayerKind::Norm;
                layer.weight = scope.resolve(input(1));
                if (is_weight(input(2)))
                    layer.bias = scope.resolve(input(2));
                for (int i = 3; i < node.input_size(); ++i)
                    if (is_weight(input(i)))
                        layer.others.push_back(scope.resolve(input(i)));
            } else if (op == "Gather" && is_weight(input(0)) &&
                       tensor(scope.resolve(input(0))).shape.size() == 2) {
                layer.kind = LayerKind::Embedding;
                layer.weight = scope.resolve(input(0));
            } else {
                continue;
            }
            if (!claimed_.insert(layer.weight).second)
                continue;
            layer.name = node.name().empty() ? layer.weight : prefix + node.name();
            // Two nodes of one name: the weight tells their layers apart.
            if (!layer_names_.insert(layer.name).second) {
                layer.name += " (" + layer.weight + ")";
                if (!layer_names_.insert(layer.name).second)
                    continue;
            }
            graph_layers_.push_back(std::move(layer));
        }
    }

    std::shared_ptr<onnx::ModelProto> proto_;
    std::set<std::string> claimed_, layer_names_, listed_, in_layer_;
    // Every constant of every graph by path, listed or not, with where it is defined.
    std::unordered_map<std::string, std::pair<const onnx::TensorProto*, std::string>> constants_;
    std::unordered_map<std::string, std::optional<TensorInfo>> described_;
    std::unordered_map<std::string, std::string> quantized_names_;  // codes → the listed tensor
    std::unordered_map<std::string, std::pair<const onnx::TensorProto*, std::optional<External>>> sources_;
    mutable std::mutex mutex_;
    mutable std::map<std::string, std::shared_ptr<const MappedFile>> external_files_;
};

}  // namespace

bool looks_like_onnx(std::string_view prefix) {
    // ModelProto starts with field 1 (ir_version, varint: tag 0x08) in every exporter we
    // know of; the full parse decides.
    return prefix.size() >= 2 && static_cast<unsigned char>(prefix[0]) == 0x08 &&
           static_cast<unsigned char>(prefix[1]) < 0x80;
}

std::unique_ptr<ModelFile> open_onnx(const std::string& path) {
    return std::make_unique<OnnxModel>(path);
}

}  // namespace quantlens
