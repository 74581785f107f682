// Small numeric helpers used across the library: whole-number division rounded
// up (block and grid counts, host and device) and decimal text that reads back
// to the same double (metadata, JSON, CSV and messages).
#pragma once

#include <cstdint>
#include <string>

#include "nmode/detail/hd.hpp"

namespace nmode {

// ceil(a / b) for a >= 0, b > 0.
NMODE_HD constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The shortest decimal text that parses back to exactly v ("0.1", "1e-30", "nan").
std::string exact_decimal(double v);

}  // namespace nmode
