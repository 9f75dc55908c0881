#include "quant/stored_spec.hpp"

namespace quantlens {

std::optional<QuantSpec> spec_of_stored(const StoredQuantization& q, Orientation orientation,
                                        std::string* why) {
    auto refuse = [&](const std::string& reason) -> std::optional<QuantSpec> {
        if (why)
            *why = reason;
        return std::nullopt;
    };
    const int rank = static_cast<int>(q.shape.size());
    if (orientation != Orientation::OutFirst && orientation != Orientation::InOut)
        return refuse("its layout is not ONNX's");
    // In the stored layout: output channels are axis 0, or the last for an [in, out] weight;
    // a row's values run along the other axis of a matrix.
    const int output_axis = orientation == Orientation::InOut ? rank - 1 : 0;
    const int input_axis = rank == 2 ? 1 - output_axis : -1;
    QuantSpec spec;
    if (q.is_float8) {
        if (q.codes.dtype != DType::F8_E4M3 && q.codes.dtype != DType::F8_E5M2)
            return refuse("its float8 type (" + std::string(dtype_name(q.codes.dtype)) + ") is not a spec's");
        spec.format = q.codes.dtype == DType::F8_E4M3 ? QuantFormat::Fp8E4M3 : QuantFormat::Fp8E5M2;
    } else {
        if (q.bits > 8 || q.bits < 2)
            return refuse(std::to_string(q.bits) + "-bit codes are wider than the integer specs (2–8)");
        spec.format = QuantFormat::Int;
        spec.bits = q.bits;
        if (q.packed_rows && !q.zero_points) {
            spec.symmetric = true;  // codes − 2^(b−1): the full signed range
            spec.full_range = true;
        } else {
            spec.symmetric = !q.zero_points && q.is_signed;
            if (!q.is_signed && !q.zero_points)
                return refuse("unsigned codes with no zero point are not a spec's grid");
        }
    }
    if (q.axis < 0) {
        spec.granularity = Granularity::Tensor;
    } else if (q.block_size == 0 && q.axis == output_axis) {
        spec.granularity = Granularity::Channel;
    } else if (q.block_size > 0 && q.axis == input_axis && !q.is_float8) {
        spec.granularity = Granularity::Group;
        spec.group_size = q.block_size;
    } else {
        return refuse("its scales run along axis " + std::to_string(q.axis) +
                      ", not per output channel or in groups along a row");
    }
    if (q.group_index)
        return refuse("its g_idx reorders the groups (act order), which a spec does not describe");
    return spec;
}

}  // namespace quantlens
