// Progress bar rendering.
#include "progress.hpp"

#include <cstdio>

#include "cli.hpp"

namespace nmode::cli {

ProgressBar::ProgressBar(std::string label, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      enabled_(stderr_is_terminal()),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressBar::update(int64_t done, int64_t total, const std::string& extra) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? double(done) / elapsed : 0.0;
  const double eta = rate > 0 ? double(total - done) / rate : 0.0;
  constexpr int kWidth = 24;
  const int filled = total > 0 ? int(kWidth * double(done) / double(total)) : kWidth;
  std::string bar(size_t(filled), '#');
  bar.resize(size_t(kWidth), '.');
  std::fprintf(stderr, "\r%s [%s] %lld/%lld %.0f %s/s ETA %.0fs %s\033[K", label_.c_str(), bar.c_str(),
               (long long)done, (long long)total, rate, unit_.c_str(), eta, extra.c_str());
}

void ProgressBar::finish() {
  if (!enabled_) return;
  std::fputs("\r\033[K", stderr);
}

}  // namespace nmode::cli
