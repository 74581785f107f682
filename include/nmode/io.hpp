// Kept for code written against earlier versions: the IDX reader is nmode/idx.hpp.
#pragma once

#include "nmode/idx.hpp"
