#pragma once
// A deliberate upward include: util (layer 0) reaching io (layer 2).
#include "io/gguf.hpp"
