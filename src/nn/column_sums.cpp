// add_column_sums (column_sums.hpp): columns split among the threads, rows in order.
#include "nn/column_sums.hpp"

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nmode {

void add_column_sums(const float* u, int64_t m, int64_t d, std::vector<double>& acc, float* out) {
  acc.assign(static_cast<size_t>(d), 0.0);
  double* a = acc.data();
  // Below this many elements a parallel region costs more than the loop.
#pragma omp parallel if (m * d >= (int64_t(1) << 15))
  {
    int64_t threads = 1, id = 0;
#ifdef _OPENMP
    threads = omp_get_num_threads();
    id = omp_get_thread_num();
#endif
    const int64_t j0 = d * id / threads, j1 = d * (id + 1) / threads;
    for (int64_t r = 0; r < m; ++r) {
      const float* row = u + r * d;
      for (int64_t j = j0; j < j1; ++j) a[j] += static_cast<double>(row[j]);
    }
  }
  for (int64_t j = 0; j < d; ++j) out[j] = static_cast<float>(static_cast<double>(out[j]) + a[j]);
}

}  // namespace nmode
