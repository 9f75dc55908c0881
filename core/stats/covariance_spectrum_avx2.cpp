// Built with -mavx2 -mfma and -DEigen=QuantLensEigenAvx2 (core/CMakeLists.txt); only called
// when the CPU has AVX2 and FMA. Eigen's GEMM and Cholesky are ~4× faster with them.
#define QUANTLENS_COVARIANCE_SPECTRUM covariance_spectrum_avx2
#include "stats/covariance_spectrum_kernel.inc"
