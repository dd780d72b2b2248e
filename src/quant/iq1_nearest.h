// The IQ1 grid point nearest a group of 8 values under a weighted error:
// of the 2048 points of kIQ1SGrid (each element -1, 0 or 1), the k that
// minimises sum_j w[j] (x[j] - s (grid_k[j] + delta))^2.
//
// Only 2048 of the 3^8 = 6561 combinations are grid points, so for most
// groups of trained (let alone random) weights the per-value nearest
// combination is not one, and a scan of every point was nearly all of an
// IQ1_S/IQ1_M encoder's time (~190 s for the bundled 8 M-parameter model).
// This search is exact but pruned: each value's cost above its own best
// choice is >= 0, so a depth-first walk over the values, trying each
// value's choices cheapest first and only along prefixes some grid point
// has, can drop a branch as soon as its extra cost reaches the best found.
#pragma once

namespace frugal::quant {

// The index of the nearest grid point; *err is its weighted error (summed
// as iq1_point_error sums it). Any point of least error is a correct
// answer; which one wins a tie is not specified.
int iq1_nearest_point(const float* x, const float* w, float s, float delta, float* err);

// Weighted error of grid point k under scale s and shift delta.
float iq1_point_error(const float* x, const float* w, float s, float delta, int k);

}  // namespace frugal::quant
