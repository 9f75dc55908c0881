#include "util/output_guard.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <mutex>
#include <set>

#include "util/error.hpp"
#include "util/paths.hpp"

namespace quantlens {

namespace fs = std::filesystem;

namespace {

std::mutex approved_mutex;
std::set<std::string>& approved_paths() {
    static std::set<std::string> paths;
    return paths;
}

// The output's own name resolved: its folder through symlinks, its last component as it is
// (a symlink at the output itself is what a rename would replace, not its target).
std::string resolved_output(const std::string& path) {
    const fs::path absolute = named_path(fs::absolute(path));
    return (fs::path(resolved(absolute.parent_path().string())) / absolute.filename())
        .lexically_normal()
        .string();
}

bool same_inode(const struct stat& a, const struct stat& b) {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// An existing regular output hard-linked to an input file (or to a file directly inside an
// input folder) would be that input under another name.
bool hard_link_to_input(const std::string& output, const std::vector<std::string>& inputs) {
    struct stat out {};
    if (::lstat(output.c_str(), &out) != 0 || !S_ISREG(out.st_mode))
        return false;
    for (const auto& input : inputs) {
        struct stat in {};
        if (::stat(input.c_str(), &in) != 0)
            continue;
        if (S_ISREG(in.st_mode) && same_inode(in, out))
            return true;
        if (!S_ISDIR(in.st_mode))
            continue;
        std::error_code error;
        int budget = 100000;  // a folder of more entries is not a model folder
        for (fs::directory_iterator it(input, error), end; !error && it != end && budget-- > 0;
             it.increment(error)) {
            struct stat entry {};
            if (::stat(it->path().c_str(), &entry) == 0 && S_ISREG(entry.st_mode) && same_inode(entry, out))
                return true;
        }
    }
    return false;
}

}  // namespace

void check_output_against_inputs(const OutputRequest& request) {
    if (request.path.empty())
        throw Error("", "output", "no output path given");
    const std::string output = resolved_output(request.path);
    const std::string target = resolved(request.path);  // through a symbolic link at the output too
    for (const auto& input : request.inputs) {
        if (input.empty())
            continue;
        const std::string source = resolved(input);
        if (output == source || target == source)
            throw Error(request.path, "", "is the input " + input + "; QuantLens never overwrites its input");
        std::error_code ignored;
        if (fs::is_directory(source, ignored) && same_or_inside(output, source))
            throw Error(request.path, "",
                        "lies inside the input folder " + input + "; write it somewhere else");
        if (same_or_inside(source, output))
            throw Error(request.path, "",
                        "holds the input " + input + "; choose a destination that holds no input");
    }
    if (hard_link_to_input(output, request.inputs))
        throw Error(request.path, "",
                    "is a hard link to an input file; QuantLens never overwrites its input");
}

void check_output(const OutputRequest& request, const MarkerProbe& carries_marker) {
    check_output_against_inputs(request);
    const std::string output = resolved_output(request.path);

    std::error_code error;
    const auto status = fs::symlink_status(output, error);
    if (!fs::exists(status))
        return;
    const bool folder = fs::is_directory(status);
    const std::string what = fs::is_symlink(status) ? "a symbolic link" : folder ? "a folder" : "a file";
    if (fs::is_symlink(status) || (!folder && !fs::is_regular_file(status)))
        throw Error(request.path, "",
                    "exists and is " + what + " that QuantLens did not write; it is left as it is");
    if (folder != (request.shape == OutputShape::Folder))
        throw Error(request.path, "",
                    "exists and is " + what + ", but this command writes " +
                        (request.shape == OutputShape::Folder ? "a folder" : "a file") +
                        "; nothing was changed");
    if (!request.replace)
        throw Error(request.path, "",
                    "exists; QuantLens does not replace what is there (choose a new name, or pass --force to "
                    "replace an earlier QuantLens output)");
    if (!carries_marker || !carries_marker(output))
        throw Error(
            request.path, "",
            "exists and carries no QuantLens marker, so QuantLens did not write it; --force replaces only "
            "QuantLens's own outputs, and this one is left as it is");
    std::lock_guard lock(approved_mutex);
    approved_paths().insert(output);
}

bool replacement_approved(const std::string& path) {
    const std::string output = resolved_output(path);
    std::lock_guard lock(approved_mutex);
    return approved_paths().count(output) > 0;
}

}  // namespace quantlens
