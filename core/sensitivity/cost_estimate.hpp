#pragma once
// What a model-based sensitivity run will cost on this machine, said before it starts: the time
// and peak memory of each requested metric, from the network's shapes (read without its weights)
// and a short timing. Small models time one real forward and backward pass of one sample in
// float32 and float64; models too large for that time their largest matrix product at the
// calibration's length and scale by the network's multiply-adds. docs/sensitivity.md ("Cost
// before work") gives the passes and buffers each metric is counted with.
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.hpp"
#include "sensitivity/labelled_data.hpp"
#include "sensitivity/sensitivity_report.hpp"

namespace quantlens {

struct MetricCost {
    std::string metric;  // "measured", "proxy", "hessian", "lrp"
    double seconds = 0;
    std::uint64_t peak_bytes = 0;
    std::string detail;  // the passes it was counted from
};

struct CostEstimate {
    std::vector<MetricCost> metrics;
    double seconds = 0;            // all of them, one after another
    std::uint64_t peak_bytes = 0;  // the largest metric's
    std::uint64_t available_bytes = 0;
    std::uint64_t parameters = 0;
    std::string timed;                                  // how the pass time was measured
    double pass_seconds_f32 = 0, pass_seconds_f64 = 0;  // forward + backward of one sample
};

// `real_pass_limit`: the largest parameter count whose real pass is timed (the rest time a
// product); 0 uses a quarter of the memory available.
CostEstimate estimate_sensitivity_cost(const Model& model, const LabelledData& data,
                                       const SensitivityRequest& request, std::uint64_t real_pass_limit = 0);
// One line per metric and a total, for the CLI's stderr; one line in all, for a status line.
std::string to_text(const CostEstimate& estimate);
std::string summary(const CostEstimate& estimate);
// Error naming the model, the peak and the memory available, when the estimate exceeds it.
void require_affordable(const CostEstimate& estimate, const std::string& path);

}  // namespace quantlens
