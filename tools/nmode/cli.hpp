// Shared pieces of the nmode command-line tool: subcommand registration, common
// options (--device, --threads, --json) and output helpers.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <string>

#include "nmode/device.hpp"

namespace nmode::cli {

// Each subcommand file defines one of these; main() calls them all.
void register_solve(CLI::App& app);
void register_bench_solver(CLI::App& app);
void register_info(CLI::App& app);
void register_demo(CLI::App& app);
void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_attack(CLI::App& app);
void register_perturb(CLI::App& app);
void register_certify(CLI::App& app);
void register_plot(CLI::App& app);
void register_predict(CLI::App& app);
void register_export(CLI::App& app);

// Options that many subcommands share.
struct CommonOptions {
  std::string device = "auto";
  int threads = 0;  // 0: OpenMP's default
  bool json = false;
  bool has_device = false;  // whether the subcommand offers --device
};
void add_common_options(CLI::App& sub, CommonOptions& o, bool with_device = true);

// Applies --threads and resolves --device; prints the one-line CPU fallback
// notice for --device auto on stderr.
Device apply_common_options(const CommonOptions& o);

// CLI11's PositiveNumber and NonNegativeNumber let NaN through (every comparison
// with NaN is false); these refuse NaN and infinities as well.
extern const CLI::Validator kFinitePositive;
extern const CLI::Validator kFiniteNonNegative;

// Refuses, before any work, an output path that cannot be written: a folder,
// or one inside a folder that does not exist. `option` names it in the message.
void check_output_path(const std::string& path, const std::string& option);

// One line on stderr when a solve will clamp rtol to the floor of its type
// (nmode::min_rtol), so nobody waits for a tolerance that cannot be met.
void notice_rtol_floor(double rtol, bool in_double);

int openmp_threads();
// True when stderr is a terminal (progress bars are drawn only then).
bool stderr_is_terminal();
// Full-precision number for human-readable tables.
std::string format_number(double v, int precision = 17);
void print_json(const nlohmann::json& j);
// "Linear(784 -> 2048) -> NmOde(...) -> Linear(2048 -> 10)" from Sequential::describe().
std::string model_summary(const std::string& describe);

}  // namespace nmode::cli
