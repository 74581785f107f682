// nmode: train, attack, certify and benchmark nmODE networks from the command line.
// Exit codes: 0 success, 2 usage error, 1 runtime error (with a one-line reason).
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "nmode/error.hpp"
#include "nmode/simd.hpp"

int main(int argc, char** argv) {
  CLI::App app{"nmode: fast, trainable and provably robust nmODE networks"};
  app.set_version_flag("--version", NMODE_VERSION);
  app.require_subcommand(1);
  nmode::cli::register_train(app);
  nmode::cli::register_eval(app);
  nmode::cli::register_predict(app);
  nmode::cli::register_attack(app);
  nmode::cli::register_perturb(app);
  nmode::cli::register_certify(app);
  nmode::cli::register_plot(app);
  nmode::cli::register_solve(app);
  nmode::cli::register_bench_solver(app);
  nmode::cli::register_demo(app);
  nmode::cli::register_info(app);
  nmode::cli::register_export(app);
  // CLI11 would only say "A subcommand is required" for a misspelt one.
  const std::vector<CLI::App*> subcommands = app.get_subcommands({});
  auto known = [&](const std::string& name) {
    return std::any_of(subcommands.begin(), subcommands.end(), [&](CLI::App* sub) { return sub->check_name(name); });
  };
  if (argc > 1 && argv[1][0] != '-' && !known(argv[1])) {
    std::string names;
    for (const CLI::App* sub : subcommands) names += (names.empty() ? "" : ", ") + sub->get_name();
    std::cerr << "nmode: error: unknown subcommand '" << argv[1] << "'; the subcommands are " << names
              << " (see nmode --help)\n";
    return 2;
  }
  try {
    // An NMODE_SIMD the CPU cannot honour is refused before any work.
    nmode::active_simd_target();
  } catch (const nmode::InvalidArgument& e) {
    std::cerr << "nmode: error: " << e.what() << "\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const nmode::InvalidArgument& e) {
    std::cerr << "nmode: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "nmode: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
