// A one-line progress bar with rate and ETA, drawn on stderr only when stderr is
// a terminal: results (and --json documents) on stdout never mix with it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace nmode::cli {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::string unit);
  // Redraws at most ~10 times a second; `extra` is appended (e.g. running loss).
  void update(int64_t done, int64_t total, const std::string& extra = "");
  void finish();  // clears the line

 private:
  std::string label_, unit_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace nmode::cli
