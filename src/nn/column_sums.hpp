// Column sums of a gradient matrix (bias gradients of Linear and NeuralOde): in
// double, each column summed in row order by one thread, so the result does not
// depend on the number of threads.
#pragma once

#include <cstdint>
#include <vector>

namespace nmode {

// out[j] += sum_r u[r * d + j] for u: (m, d); acc is scratch, resized to d.
void add_column_sums(const float* u, int64_t m, int64_t d, std::vector<double>& acc, float* out);

}  // namespace nmode
