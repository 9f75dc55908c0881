#pragma once
// Which candidate specs an export format accepts, layer by layer, before any plan is made: the
// Allocate view's and `allocate --for-format`'s candidate filter. Each answer comes from the
// exporter's own checks (the ones it runs before writing), so a plan made under the filter is
// one the export takes.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "model/model.hpp"
#include "quant/quant_spec.hpp"

namespace quantlens {

// Why `format` (one of export_formats()) cannot be written from this model at all: "" when it
// can. Error naming the format when it is not one.
std::string export_source_refusal(const Model& model, std::string_view format);

// layer name → spec text → why `format` refuses that layer with that spec; layers and specs
// that are accepted are absent. Checks that concern a whole plan rather than one layer (fused
// projections with different schemes, a plan that quantizes nothing) are not filters and are
// left to the export.
using SpecRefusals = std::map<std::string, std::map<std::string, std::string>>;
SpecRefusals export_refusals(const Model& model, std::string_view format,
                             const std::vector<const Layer*>& layers, const std::vector<QuantSpec>& specs);

}  // namespace quantlens
