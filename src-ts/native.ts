/**
 * The generated napi-rs loader (`index.js` at the package root), typed by the generated
 * `index.d.ts`. Private: the public API wraps it.
 * @internal
 * @module
 */
import * as binding from '../index.js'

export const native: typeof binding = binding
export type { NativeCollection, NativeDatabase, NativeKv, NativeHits, NativeSearchOptions, NativeStored } from '../index.js'
