// Built with the project's flags (any x86-64).
#define QUANTLENS_COVARIANCE_SPECTRUM covariance_spectrum_generic
#include "stats/covariance_spectrum_kernel.inc"
