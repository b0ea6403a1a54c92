// Byte shuffles shared by the fixed-point uint8 kernels of resize and warp (x86 ISAs): the 8 bytes
// from a pixel's left tap (C = 3 or 4 channels, then the right tap's) spread so that 32-bit lane c
// holds byte c | byte C + c << 16 as two 16-bit values, the pair pmaddwd multiplies by a weight
// pair w0 | w1 << 16 (-1: a zero byte, lane 3 of a 3-channel pixel); and 4 pixels of 4 bytes
// packed to their first 3 bytes each.
#pragma once

#include <cstddef>
#include <cstdint>

namespace foveal {
namespace {

alignas(16) constexpr int8_t kTapPairs3[16] = {0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1};
alignas(16) constexpr int8_t kTapPairs4[16] = {0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1};
alignas(16) constexpr int8_t kPack4To3[16] = {0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1};

// The pair shuffle of C (3 or 4) channels.
constexpr const int8_t* tap_pairs(size_t C) { return C == 3 ? kTapPairs3 : kTapPairs4; }

}  // namespace
}  // namespace foveal
