# Empties the CLI tests' output folder (made by the suite itself) and creates it again.
# Usage: cmake -DDIR=<build>/tests/cli-out -P fresh_dir.cmake
if(NOT DIR MATCHES "/cli-out$")
  message(FATAL_ERROR "fresh_dir: refusing to empty ${DIR}: only the suite's own cli-out folder")
endif()
file(REMOVE_RECURSE "${DIR}")
file(MAKE_DIRECTORY "${DIR}")
