// CPU feature detection and kernel selection.
#include "l2loss/dispatch.hpp"
#include "l2loss/target_moments.hpp"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define L2LOSS_X86 1
#endif

namespace l2loss {
namespace {

struct CpuFeatures {
  bool avx2 = false;
  bool avx512 = false;
};

#ifdef L2LOSS_X86
uint64_t read_xcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#ifdef L2LOSS_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;     // SSE + AVX state saved by the OS
  const bool os_zmm = (xcr0 & 0xE6) == 0xE6;   // + opmask, ZMM_Hi256, Hi16_ZMM
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  const bool avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1;
  f.avx2 = avx2 && fma && f16c && os_ymm;
  f.avx512 = f.avx2 && avx512f && os_zmm;
#endif
  return f;
}

const CpuFeatures& features() {
  static const CpuFeatures f = detect();
  return f;
}

Isa initial_isa() {
  if (const char* env = std::getenv("L2LOSS_ISA")) {
    Isa isa;
    if (isa_from_name(env, isa) && isa_supported(isa)) return isa;
    // An unknown or unsupported request falls back to the best path; show_config()
    // reports what is active.
  }
  return best_isa();
}

std::atomic<int>& active() {
  static std::atomic<int> isa{static_cast<int>(initial_isa())};
  return isa;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    default: return "scalar";
  }
}

bool isa_from_name(const std::string& name, Isa& out) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (name == isa_name(isa)) {
      out = isa;
      return true;
    }
  }
  return false;
}

bool isa_compiled(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return true;
#ifdef L2LOSS_HAVE_AVX2_KERNELS
    case Isa::kAvx2: return true;
#endif
#ifdef L2LOSS_HAVE_AVX512_KERNELS
    case Isa::kAvx512: return true;
#endif
    default: return false;
  }
}

bool isa_supported(Isa isa) {
  if (!isa_compiled(isa)) return false;
  switch (isa) {
    case Isa::kAvx2: return features().avx2;
    case Isa::kAvx512: return features().avx512;
    default: return true;
  }
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (isa_supported(isa)) out.push_back(isa);
  }
  return out;
}

Isa best_isa() { return supported_isas().back(); }

Isa active_isa() { return static_cast<Isa>(active().load(std::memory_order_relaxed)); }

void set_isa(Isa isa) {
  if (!isa_supported(isa)) {
    throw std::invalid_argument(std::string("ISA '") + isa_name(isa) +
                                "' is not supported by this CPU/OS or was not compiled in");
  }
  active().store(static_cast<int>(isa), std::memory_order_relaxed);
}

const IsaKernels& kernels_for(Isa isa) {
  static const IsaKernels kScalar{&scalar::column_kernel, &scalar::has_tiny_float64, &scalar::ridge_block,
                                     &scalar::packed_kernel, scalar::kPackedLanes};
#ifdef L2LOSS_HAVE_AVX2_KERNELS
  static const IsaKernels kAvx2{&avx2::column_kernel, &avx2::has_tiny_float64, &avx2::ridge_block,
                                     &avx2::packed_kernel, avx2::kPackedLanes};
  if (isa == Isa::kAvx2) return kAvx2;
#endif
#ifdef L2LOSS_HAVE_AVX512_KERNELS
  static const IsaKernels kAvx512{&avx512::column_kernel, &avx512::has_tiny_float64, &avx512::ridge_block,
                                     &avx512::packed_kernel, avx512::kPackedLanes};
  if (isa == Isa::kAvx512) return kAvx512;
#endif
  return kScalar;
}

}  // namespace l2loss
