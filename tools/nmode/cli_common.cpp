// Common option handling and output helpers for the nmode subcommands.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli.hpp"
#include "nmode/error.hpp"
#include "nmode/ode.hpp"

namespace nmode::cli {

void add_common_options(CLI::App& sub, CommonOptions& o, bool with_device) {
  o.has_device = with_device;
  if (with_device)
    sub.add_option("--device", o.device, "Where to compute: cpu, cuda or auto (GPU when one is usable)")
        ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
        ->capture_default_str();
  sub.add_option("--threads", o.threads, "CPU threads (0: all cores / OMP_NUM_THREADS)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  sub.add_flag("--json", o.json, "Print machine-readable JSON instead of a table");
}

Device apply_common_options(const CommonOptions& o) {
#ifdef _OPENMP
  if (o.threads > 0) omp_set_num_threads(o.threads);
#endif
  if (!o.has_device) return Device::Cpu;
  std::string notice;
  const Device d = resolve_device(parse_device(o.device), &notice);
  if (!notice.empty()) std::cerr << "nmode: " << notice << "\n";
  return d;
}

int openmp_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

namespace {

CLI::Validator finite_number(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v)) return "'" + text + "' is not a number";
        if (!std::isfinite(v) || v < 0 || (v == 0 && !allow_zero))
          return "must be a finite number " + std::string(allow_zero ? ">= 0" : "> 0") + ", got " + text;
        return "";
      },
      allow_zero ? "NONNEGATIVE" : "POSITIVE");
}

}  // namespace

const CLI::Validator kFinitePositive = finite_number(false);
const CLI::Validator kFiniteNonNegative = finite_number(true);

void check_output_path(const std::string& path, const std::string& option) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.empty()) throw InvalidArgument(option + ": the path is empty");
  if (fs::is_directory(path, ec)) throw InvalidArgument(option + " " + path + ": is a folder; give a file name");
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw InvalidArgument(option + " " + path + ": the folder " + parent.string() + " does not exist");
}

void notice_rtol_floor(double rtol, bool in_double) {
  const double floor = in_double ? min_rtol<double>() : min_rtol<float>();
  if (rtol < floor)
    std::cerr << "nmode: notice: rtol " << format_number(rtol, 6) << " is below the precision of "
              << (in_double ? "double" : "float") << "; solving with its floor rtol " << format_number(floor, 6)
              << "\n";
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) != 0; }

std::string format_number(double v, int precision) {
  std::ostringstream s;
  s.precision(precision);
  s << v;
  return s.str();
}

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

std::string model_summary(const std::string& describe) {
  std::istringstream lines(describe);
  std::string line, out;
  while (std::getline(lines, line)) {
    const size_t colon = line.find(": ");
    out += (out.empty() ? "" : " -> ") + (colon == std::string::npos ? line : line.substr(colon + 2));
  }
  return out;
}

}  // namespace nmode::cli
