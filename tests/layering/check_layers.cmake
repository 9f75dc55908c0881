# Fails when a source file includes a header from a layer above its own.
# Usage: cmake -DROOT=<tree holding core/, widgets/, app/> -P check_layers.cmake
#
# The layers, lowest first (README "Layout"); a directory may include its own headers and
# those of any lower layer, never a higher one or a sibling on its own level:
#   0 core/util
#   1 core/tensor, core/stats
#   2 core/io
#   3 core/model
#   4 core/quant, core/nn
#   5 core/analysis
#   6 core/sensitivity, core/alloc
#   7 core/export
#   8 widgets          (may include any of core; the only Qt outside app/)
#   9 app/gui, app/cli
# Core files include no Qt header at all.
cmake_minimum_required(VERSION 3.25)
if(NOT DEFINED ROOT)
  message(FATAL_ERROR "check_layers: pass -DROOT=<source tree>")
endif()

set(level_util 0)
set(level_tensor 1)
set(level_stats 1)
set(level_io 2)
set(level_model 3)
set(level_quant 4)
set(level_nn 4)
set(level_analysis 5)
set(level_sensitivity 6)
set(level_alloc 6)
set(level_export 7)
set(level_widgets 8)
set(level_app 9)

# The layer of a path relative to ROOT ("core/io/gguf.hpp" -> io), or "" outside them.
function(layer_of relative out)
  if(relative MATCHES "^core/([a-z_]+)/")
    set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  elseif(relative MATCHES "^widgets/")
    set(${out} widgets PARENT_SCOPE)
  elseif(relative MATCHES "^app/")
    set(${out} app PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

file(GLOB_RECURSE sources RELATIVE "${ROOT}"
  "${ROOT}/core/*.cpp" "${ROOT}/core/*.hpp" "${ROOT}/core/*.inc"
  "${ROOT}/widgets/*.cpp" "${ROOT}/widgets/*.hpp" "${ROOT}/widgets/*.h"
  "${ROOT}/app/*.cpp" "${ROOT}/app/*.hpp" "${ROOT}/app/*.h")
list(LENGTH sources source_count)
if(source_count EQUAL 0)
  message(FATAL_ERROR "check_layers: no sources under ${ROOT}")
endif()

set(violations "")
set(include_count 0)
foreach(source IN LISTS sources)
  layer_of("${source}" from)
  if(from STREQUAL "")
    continue()
  endif()
  if(NOT DEFINED level_${from})
    string(APPEND violations "\n  ${source}: directory core/${from} has no place in the layer order")
    continue()
  endif()
  file(STRINGS "${ROOT}/${source}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  foreach(line IN LISTS lines)
    math(EXPR include_count "${include_count} + 1")
    if(line MATCHES "#[ \t]*include[ \t]*<(Q[A-Za-z]+|qcustomplot)")
      if(source MATCHES "^core/")
        string(APPEND violations "\n  ${source}: core includes Qt (${CMAKE_MATCH_1})")
      endif()
      continue()
    endif()
    if(NOT line MATCHES "#[ \t]*include[ \t]*\"([^\"]+)\"")
      continue()
    endif()
    set(header "${CMAKE_MATCH_1}")
    # Project headers are named from core/ (the include root) or from widgets/ and app/.
    if(header MATCHES "^([a-z_]+)/" AND EXISTS "${ROOT}/core/${header}")
      layer_of("core/${header}" to)
    elseif(EXISTS "${ROOT}/${header}")
      layer_of("${header}" to)
    elseif(NOT source MATCHES "^widgets/" AND EXISTS "${ROOT}/widgets/${header}")
      set(to widgets)
    elseif(NOT source MATCHES "^app/" AND (EXISTS "${ROOT}/app/gui/${header}" OR EXISTS "${ROOT}/app/cli/${header}"))
      set(to app)
    else()
      continue()  # a header beside the file, or a generated one
    endif()
    if(to STREQUAL "" OR to STREQUAL from)
      continue()
    endif()
    if(NOT DEFINED level_${to})
      string(APPEND violations "\n  ${source} includes ${header}: core/${to} has no place in the layer order")
    elseif(NOT level_${to} LESS level_${from})
      string(APPEND violations
        "\n  ${source} (layer ${from}, ${level_${from}}) includes ${header} (layer ${to}, ${level_${to}})")
    endif()
  endforeach()
endforeach()

if(NOT violations STREQUAL "")
  message(FATAL_ERROR "check_layers: includes that go up or sideways:${violations}")
endif()
message(STATUS "check_layers: ${source_count} files, ${include_count} includes, every one downward")
