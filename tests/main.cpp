#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

// Analyses cache their results under the user's cache folder by default; the tests use a
// folder of their own, removed at the end, so they neither read stale entries nor leave any.
int main(int argc, char* argv[]) {
    const auto cache =
        std::filesystem::temp_directory_path() / ("quantlens-test-cache-" + std::to_string(::getpid()));
    ::setenv("QUANTLENS_CACHE_DIR", cache.c_str(), 1);
    const int result = Catch::Session().run(argc, argv);
    std::error_code ignored;
    std::filesystem::remove_all(cache, ignored);
    return result;
}
