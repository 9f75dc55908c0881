#pragma once
// How QuantLens names what lives in ONNX subgraphs, shared by the reader and the ONNX exporter
// so a layer's weight path leads back to its tensor: a subgraph's tensors are named
// "<prefix><node>/<attribute>/<tensor>" ("<attribute>[k]" for a GRAPHS attribute's k-th), the
// node by its name or as "<op>#<index>" when it has none, "#<index>" appended to a name met
// before in the same graph. Internal to core/io and core/export (it needs onnx's protobuf types).
#include <onnx/onnx_pb.h>

#include <set>
#include <string>

namespace quantlens {

namespace onnx_graph_detail {
inline const onnx::NodeProto& node(const onnx::GraphProto& graph, int i) {
    return graph.node(i);
}
inline onnx::NodeProto& node(onnx::GraphProto& graph, int i) {
    return *graph.mutable_node(i);
}
inline const onnx::AttributeProto& attribute(const onnx::NodeProto& node, int i) {
    return node.attribute(i);
}
inline onnx::AttributeProto& attribute(onnx::NodeProto& node, int i) {
    return *node.mutable_attribute(i);
}
inline const onnx::GraphProto& graph(const onnx::AttributeProto& attribute) {
    return attribute.g();
}
inline onnx::GraphProto& graph(onnx::AttributeProto& attribute) {
    return *attribute.mutable_g();
}
inline const onnx::GraphProto& graphs(const onnx::AttributeProto& attribute, int k) {
    return attribute.graphs(k);
}
inline onnx::GraphProto& graphs(onnx::AttributeProto& attribute, int k) {
    return *attribute.mutable_graphs(k);
}
}  // namespace onnx_graph_detail

// The label node `index` of a graph gets in paths; `seen` holds the labels of the nodes before it.
template <class Node>
std::string onnx_node_label(const Node& node, int index, std::set<std::string>& seen) {
    std::string label = node.name().empty() ? node.op_type() + "#" + std::to_string(index) : node.name();
    if (!seen.insert(label).second)
        label += "#" + std::to_string(index);
    return label;
}

// Calls visit(subgraph, its prefix) for each GRAPH and GRAPHS attribute of each node of `graph`,
// in file order; `Graph` is GraphProto or const GraphProto.
template <class Graph, class Visit>
void for_each_subgraph(Graph& graph, const std::string& prefix, Visit&& visit) {
    namespace detail = onnx_graph_detail;
    std::set<std::string> labels;
    for (int i = 0; i < graph.node_size(); ++i) {
        auto& node = detail::node(graph, i);
        const std::string label = onnx_node_label(node, i, labels);
        for (int a = 0; a < node.attribute_size(); ++a) {
            auto& attribute = detail::attribute(node, a);
            if (attribute.has_g())
                visit(detail::graph(attribute), prefix + label + "/" + attribute.name() + "/");
            for (int k = 0; k < attribute.graphs_size(); ++k)
                visit(detail::graphs(attribute, k),
                      prefix + label + "/" + attribute.name() + "[" + std::to_string(k) + "]/");
        }
    }
}

}  // namespace quantlens
