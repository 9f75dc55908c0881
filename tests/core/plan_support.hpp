#pragma once
// The weights-only analysis a plan request needs, uncached: shared by the tests that plan.
#include "alloc/planning.hpp"
#include "analysis/model_analysis.hpp"

namespace quantlens::test {

inline AnalysisReport analysis_for(const Model& model, const PlanRequest& request) {
    AnalysisOptions options;
    options.specs = specs_to_measure(request);
    options.qsur = false;
    options.use_cache = false;
    return analyze_model(model, options);
}

}  // namespace quantlens::test
