/*
 * cpu_fast_target.h - compile the functions between EP_TARGET_BEGIN(...) and
 * EP_TARGET_END for an instruction set the build machine's default does not
 * assume. Only code reached after ep_cpu_features_get() said yes may live
 * there; the table getters stay outside so any x86-64 can call them.
 */
#ifndef EP_CPU_FAST_TARGET_H
#define EP_CPU_FAST_TARGET_H

#define EP_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define EP_TARGET_BEGIN(isa) EP_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define EP_TARGET_END EP_PRAGMA(clang attribute pop)
#elif defined(__GNUC__)
#define EP_TARGET_BEGIN(isa) EP_PRAGMA(GCC push_options) EP_PRAGMA(GCC target(isa))
#define EP_TARGET_END EP_PRAGMA(GCC pop_options)
#else
#error "the fast CPU kernels need GCC or Clang (function-level target attributes)"
#endif

#define EP_ISA_AVX2 "avx2,fma,f16c"
#define EP_ISA_AVX512 "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq"
#define EP_ISA_AVX512_VNNI EP_ISA_AVX512 ",avx512vnni"
#define EP_ISA_AVX512_BF16 EP_ISA_AVX512 ",avx512bf16"
#define EP_ISA_AMX EP_ISA_AVX512_BF16 ",amx-tile,amx-bf16"

#endif /* EP_CPU_FAST_TARGET_H */
