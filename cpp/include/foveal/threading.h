// The native thread pool size (OpenMP), shared by every parallel driver.
#pragma once

namespace foveal {

int get_num_threads();
void set_num_threads(int n);  // n >= 1
bool openmp_enabled();

}  // namespace foveal
