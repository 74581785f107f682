// `nmode info`: version, compiled backends, GPU visibility and CPU threads.
#include <iostream>

#include "cli.hpp"

namespace nmode::cli {

void register_info(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand("info", "Show the version, backends, GPU and threads");
  sub->add_flag("--json", *json, "Print machine-readable JSON");
  sub->callback([json] {
    std::string reason;
    const bool gpu = cuda_available(&reason);
    const std::string gpu_text = gpu ? cuda_device_name() : "none (" + reason + ")";
    if (*json) {
      print_json({{"version", NMODE_VERSION}, {"cuda_compiled", cuda_compiled()}, {"gpu", gpu},
                  {"gpu_name", gpu ? cuda_device_name() : ""}, {"gpu_reason", gpu ? "" : reason},
                  {"openmp_threads", openmp_threads()}});
      return;
    }
    std::cout << "nmode " << NMODE_VERSION << "\n"
              << "backends: cpu (OpenMP, " << openmp_threads() << " threads)"
              << (cuda_compiled() ? ", cuda" : "") << "\n"
              << "gpu: " << gpu_text << "\n";
  });
}

}  // namespace nmode::cli
