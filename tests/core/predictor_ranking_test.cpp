// Ranking and labelling of the sensitivity predictors (what the Sensitivity view shows).
#include <catch2/catch.hpp>

#include <cmath>

#include "sensitivity/sensitivity_report.hpp"

using namespace quantlens;

TEST_CASE("predictors are ranked best first under one spec, labelled, with KL and non-finite rho left out") {
    SensitivityReport report;
    const double nan = std::nan("");
    report.agreement = {
        {"int4:channel:sym", "kurtosis", 0.10, 6}, {"int4:channel:sym", "hessian_omega", 0.90, 6},
        {"int4:channel:sym", "kl", 0.99, 6},       {"int4:channel:sym", "lrp", nan, 6},
        {"int8:channel:sym", "fisher", 0.95, 6},   {"int4:channel:sym", "fisher", 0.50, 6},
        {"int4:channel:sym", "proxy", 0.50, 6}};
    const auto ranked = ranked_predictors(report, "int4:channel:sym");
    REQUIRE(ranked.size() == 4);
    CHECK(ranked[0].predictor == "hessian_omega");
    CHECK(ranked[1].predictor == "fisher");  // ties keep the report's order
    CHECK(ranked[2].predictor == "proxy");
    CHECK(ranked[3].predictor == "kurtosis");
    CHECK(predictor_label("hessian_omega") == "HAWQ Ω");
    CHECK(predictor_label("fisher") == "Fisher–Taylor");
    CHECK(predictor_label("kl").empty());
    CHECK(predictor_label("delta_loss").empty());
}
