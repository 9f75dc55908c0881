#pragma once
#include "util/clock.hpp"
