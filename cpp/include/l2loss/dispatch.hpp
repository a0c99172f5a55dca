// Runtime selection of the kernel ISA: chosen once from what the CPU *and* the OS
// (XCR0) support and what this build compiled, overridable with L2LOSS_ISA and by the
// test hook set_isa().
#pragma once

#include <string>
#include <vector>

#include "l2loss/kernel_abi.hpp"
#include "l2loss/ridge_kernel.hpp"

namespace l2loss {

enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

const char* isa_name(Isa isa);
bool isa_from_name(const std::string& name, Isa& out);
bool isa_compiled(Isa isa);   // this build carries kernels for it
bool isa_supported(Isa isa);  // compiled, and CPU + OS can run it
std::vector<Isa> supported_isas();
Isa best_isa();               // the widest supported ISA
Isa active_isa();             // best_isa(), or L2LOSS_ISA, or the last set_isa()
// Forces an ISA (test hook). Throws std::invalid_argument if it is not supported here.
void set_isa(Isa isa);

// The tiny-target scan of target_moments.hpp (the same answer on every ISA).
using TinyScan = bool (*)(const char* p, int64_t stride, int64_t n);

// The one ISA table: every kernel family an ISA file provides. Drivers take their
// kernels from here (kernels_for(active_isa())), so adding an ISA or a family is one row.
// (The bandwidth probe is a yardstick outside this table: it always runs the widest
// build it has, whatever path the metrics are forced onto.)
struct IsaKernels {
  ColumnKernel column;  // kernel_body.inc: metrics, float16, exact, gradient
  TinyScan tiny_scan;   // target_scan.inc
  RidgeKernel ridge;    // ridge_body.inc
  PackedKernel packed;  // kernel_packed.inc: MSE / MAE of C-ordered (n, k) pairs
  int packed_lanes;     // its vector width in doubles
};
const IsaKernels& kernels_for(Isa isa);

}  // namespace l2loss
