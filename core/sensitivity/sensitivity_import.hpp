#pragma once
// A sensitivity report made elsewhere: by QuantLens on a bigger machine, or by any runner that
// writes the same schema (quantlens.sensitivity/2, docs/sensitivity.md), checked against the
// model it is opened with before anything uses it. Once imported it is used wherever a report the
// engine computed is: tables, plots, the predictor ranking and allocation evidence.
#include <string>

#include "model/model.hpp"
#include "sensitivity/allocation_evidence.hpp"
#include "sensitivity/sensitivity_report.hpp"

namespace quantlens {

// Error naming the file and the field: a malformed report, one with another schema, one whose
// layers this model does not have (by name) or whose sizes differ (another model of the same
// shape names would fail here), per-spec figures whose count is not the number of specs. The
// predictor ranking is computed again from the imported figures, never taken from the file.
SensitivityReport import_sensitivity_report(const Model& model, const std::string& path);

// The allocation evidence a report holds: Hessian traces (HAWQ Ω), measured Δloss and its
// Fisher–Taylor estimate per spec, LRP contributions.
AllocationEvidence evidence_of(const SensitivityReport& report);

}  // namespace quantlens
