// Square Attack, L∞ (Andriushchenko et al. 2020): score-based random search over
// ±eps squares with the margin loss, vertical-stripe start and the p schedule
// (docs/attacks.md §6). Queries logits only; finished examples are not queried.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "robust/attack_common.hpp"
#include "nmode/attack_ops.hpp"
#include "nmode/error.hpp"

namespace nmode {

using attack_impl::example_id;
using attack_impl::LogitOracle;

double square_fraction(double p_init, int iteration, int n_queries, bool rescale_schedule) {
  double it = iteration;
  if (rescale_schedule) it = std::floor(static_cast<double>(iteration) / n_queries * 10000.0);
  static const double bounds[] = {10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000};
  double p = p_init;
  for (double b : bounds) {
    if (it <= b) return p;
    p /= 2.0;
  }
  return p;  // p_init / 512
}

int square_size(double p_init, int iteration, int n_queries, bool rescale_schedule, int channels, int height,
                int width) {
  (void)channels;  // n_features / C = H·W
  const double p = square_fraction(p_init, iteration, n_queries, rescale_schedule);
  // nearbyint rounds half to even in the default mode, as Python's round does.
  int s = static_cast<int>(std::nearbyint(std::sqrt(p * height * width)));
  s = std::max(s, 1);
  return std::min(s, std::min(height, width));
}

// Resolves C×H×W from the config and checks it against input_dim.
static void image_shape(const AttackConfig& config, int64_t d, int& c, int& h, int& w) {
  c = config.image_channels;
  h = config.image_height;
  w = config.image_width;
  if (h == 0) {
    const int64_t hw = d / c;
    const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(hw))));
    if (hw * c != d || static_cast<int64_t>(side) * side != hw)
      throw InvalidArgument("attack square: input_dim " + std::to_string(d) + " with " + std::to_string(c) +
                            " channel(s) is not a square image; set image_height and image_width");
    h = w = side;
  }
  if (static_cast<int64_t>(c) * h * w != d)
    throw InvalidArgument("attack square: image " + std::to_string(c) + "x" + std::to_string(h) + "x" +
                          std::to_string(w) + " does not match input_dim " + std::to_string(d));
}

AttackResult square_attack(Classifier& model, const float* x, const int32_t* y, int64_t n,
                           const AttackConfig& config, const int64_t* example_ids, SquareTrace* trace) {
  attack_impl::check_attack_inputs(model, x, y, n, config);
  const int64_t d = model.input_dim();
  int channels = 0, height = 0, width = 0;
  image_shape(config, d, channels, height, width);
  AttackResult res = attack_impl::make_result(x, n, d);
  const int n_queries = config.n_queries;
  if (trace) {
    trace->n_queries = n_queries;
    trace->margin_best.assign(static_cast<size_t>(n * (n_queries + 1)), std::numeric_limits<double>::quiet_NaN());
  }
  const float eps = static_cast<float>(config.eps);
  const int64_t cap = std::min<int64_t>(config.batch, std::max<int64_t>(n, 1));
  const int64_t plane = static_cast<int64_t>(height) * width;
  LogitOracle oracle(model, cap);
  std::vector<float> proposal(static_cast<size_t>(cap * d));
  std::vector<double> m_best(static_cast<size_t>(cap)), m_new(static_cast<size_t>(cap));
  std::vector<uint8_t> correct_best(static_cast<size_t>(cap)), correct_new(static_cast<size_t>(cap));

  for (int64_t b0 = 0; b0 < n; b0 += cap) {
    const int64_t nb = std::min(cap, n - b0);
    const float* xb = x + b0 * d;
    const int32_t* yb = y + b0;
    float* best = res.x_adv.data() + b0 * d;
    int64_t* queries = res.queries.data() + b0;
    uint8_t* nonfinite = res.numerical_failure.data() + b0;
    std::vector<SplitMix64> rng;
    for (int64_t j = 0; j < nb; ++j)
      rng.push_back(attack_impl::example_stream(config.seed, attack_impl::kStreamSquare,
                                                example_id(example_ids, b0 + j), 0));
    auto record = [&](int slot) {
      if (!trace) return;
      for (int64_t j = 0; j < nb; ++j) trace->margin_best[(b0 + j) * (n_queries + 1) + slot] = m_best[j];
    };

    // Vertical stripes: one sign per (channel, column), constant down the column.
    std::vector<int64_t> active(static_cast<size_t>(nb));
    for (int64_t j = 0; j < nb; ++j) active[j] = j;
    NMODE_ATTACK_PARALLEL_FOR(nb * d)
    for (int64_t j = 0; j < nb; ++j) {
      for (int ch = 0; ch < channels; ++ch)
        for (int col = 0; col < width; ++col) {
          const float sigma = rng[j].next_below(2) ? 1.0f : -1.0f;
          for (int row = 0; row < height; ++row) {
            const int64_t idx = j * d + ch * plane + static_cast<int64_t>(row) * width + col;
            best[idx] = clip01(xb[idx] + eps * sigma);
          }
        }
    }
    oracle.evaluate(best, yb, active, m_best.data(), correct_best.data(), nonfinite);
    for (int64_t j = 0; j < nb; ++j) queries[j] = 1;
    record(0);

    for (int it = 0; it < n_queries; ++it) {
      active.clear();
      for (int64_t j = 0; j < nb; ++j)
        if (m_best[j] > 0.0) active.push_back(j);  // NaN or <= 0: stopped
      if (active.empty()) {
        for (int slot = it + 1; slot <= n_queries; ++slot) record(slot);
        break;
      }
      const int s = square_size(config.p_init, it, n_queries, config.rescale_schedule, channels, height, width);
      const int64_t na = static_cast<int64_t>(active.size());
      NMODE_ATTACK_PARALLEL_FOR(na * d)
      for (int64_t a = 0; a < na; ++a) {
        const int64_t j = active[a];
        float* prop = proposal.data() + j * d;
        std::copy(best + j * d, best + (j + 1) * d, prop);
        // Both offsets inclusive of H - s and W - s, as the paper's pseudo-code.
        const int64_t r0 = static_cast<int64_t>(rng[j].next_below(static_cast<uint64_t>(height - s + 1)));
        const int64_t c0 = static_cast<int64_t>(rng[j].next_below(static_cast<uint64_t>(width - s + 1)));
        for (int ch = 0; ch < channels; ++ch) {
          const float sigma = rng[j].next_below(2) ? 1.0f : -1.0f;
          for (int64_t row = r0; row < r0 + s; ++row)
            for (int64_t col = c0; col < c0 + s; ++col) {
              const int64_t idx = ch * plane + row * width + col;
              prop[idx] = clip01(xb[j * d + idx] + eps * sigma);
            }
        }
      }
      oracle.evaluate(proposal.data(), yb, active, m_new.data(), correct_new.data(), nonfinite);
      for (int64_t j : active) {
        ++queries[j];
        // Accept a strict improvement or any misclassified proposal.
        if (m_new[j] < m_best[j] || m_new[j] <= 0.0) {
          m_best[j] = m_new[j];
          correct_best[j] = correct_new[j];
          std::copy(proposal.data() + j * d, proposal.data() + (j + 1) * d, best + j * d);
        }
      }
      record(it + 1);
    }
    for (int64_t j = 0; j < nb; ++j) res.fooled[b0 + j] = correct_best[j] ? 0 : 1;
    if (config.progress) config.progress(b0 + nb, n);
  }
  return res;
}

}  // namespace nmode
