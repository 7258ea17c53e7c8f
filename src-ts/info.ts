/**
 * Facts about the loaded native engine.
 * @module
 */
import { native } from './native.js'

/** What the native engine reports about itself. */
export interface EngineInfo {
  /** Version of the native engine. */
  nativeVersion: string
  /** SIMD level the distance kernels use on this CPU: `avx512`, `avx2`, `neon` or `scalar`. */
  simd: string
}

/** Version and SIMD level of the loaded native engine. */
export function engineInfo(): EngineInfo {
  return { nativeVersion: native.nativeVersion(), simd: native.simdLevel() }
}
