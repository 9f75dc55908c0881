#pragma once
// Where an output may go. Every command that writes (export in every format, reports, plans,
// tensor-type files, the GUI's save and export dialogs) asks check_output() before any work,
// and the atomic writers ask replacement_approved() again when they commit:
// - an output is never an input, never lies inside an input folder and never holds an input
//   (paths resolved through symlinks; an existing output is compared by inode too, so a hard
//   link to an input counts as that input);
// - an existing file or folder is replaced only when the user asked for it (--force, or the
//   GUI's overwrite confirmation) and it carries QuantLens's own marker, i.e. QuantLens wrote
//   it; anything else is refused with the reason, and nothing is deleted.
#include <functional>
#include <string>
#include <vector>

namespace quantlens {

enum class OutputShape { File, Folder };

struct OutputRequest {
    std::string path;  // as the user named it
    OutputShape shape = OutputShape::File;
    std::vector<std::string> inputs;  // every file or folder the command reads
    bool replace = false;             // --force: an earlier QuantLens output may be replaced
};

// Whether an existing path carries QuantLens's marker (see io/output_marker.hpp).
using MarkerProbe = std::function<bool(const std::string& path)>;

// Throws Error(request.path, "", why) when writing there could lose data. When it allows
// replacing an existing output, it approves that path for the atomic writers.
void check_output(const OutputRequest& request, const MarkerProbe& carries_marker);

// Only the first half of check_output(): Error when the output is, holds or lies inside an
// input. Exporters call it themselves, so no caller can skip it.
void check_output_against_inputs(const OutputRequest& request);

// Whether check_output() allowed replacing the existing file or folder at `path`.
bool replacement_approved(const std::string& path);

}  // namespace quantlens
