/**
 * The generated napi-rs loader (`index.js` at the package root), typed by the generated
 * `index.d.ts`. Private: the public API wraps it.
 * @internal
 * @module
 */
import type * as Binding from '../index.js'

/** The part of Deno's permission API this module reads (`Deno` is not in Node's types). */
interface DenoPermissions {
  permissions: {
    querySync(descriptor: { name: 'ffi' | 'env' | 'read'; variable?: string; path?: string }): { state: string }
  }
}

/**
 * Under Deno, the permission flags that loading the addon needs and were not granted:
 * `--allow-ffi` to load a native addon at all, `--allow-read` for the loader to find it
 * (and check the C library), `--allow-env` for the loader's `NAPI_RS_*` variables.
 * Empty outside Deno, or when all are granted.
 * @internal
 */
export function missingDenoPermissions(): string[] {
  const deno = (globalThis as { Deno?: DenoPermissions }).Deno
  if (deno?.permissions?.querySync === undefined) return []
  const missing: string[] = []
  const granted = (d: Parameters<DenoPermissions['permissions']['querySync']>[0]): boolean => {
    try {
      return deno.permissions.querySync(d).state === 'granted'
    } catch {
      return true // cannot tell: do not claim it is missing
    }
  }
  if (!granted({ name: 'ffi' })) missing.push('--allow-ffi')
  if (!granted({ name: 'read', path: __dirname })) missing.push('--allow-read')
  if (!granted({ name: 'env', variable: 'NAPI_RS_NATIVE_LIBRARY_PATH' })) missing.push('--allow-env')
  return missing
}

/** Node's permission model (`--permission`), where the running Node has it. */
interface NodePermission {
  has(scope: string): boolean
}

/**
 * The loader's error, or a clearer one where the cause is known. Under Deno without
 * `--allow-ffi`, or Node's permission model without `--allow-addons`, the loader reports
 * "Cannot find native binding" and blames npm, while the binary is there and the runtime
 * refused to load it.
 */
function explainLoadFailure(err: unknown): unknown {
  const missing = missingDenoPermissions()
  if (missing.length > 0) {
    return new Error(
      `kyrodb cannot load its native addon because Deno was run without ${missing.join(', ')}. ` +
        'Run Deno with --allow-ffi --allow-read --allow-env (and --allow-write where your code writes files), ' +
        'e.g. `deno run --allow-ffi --allow-read --allow-env main.ts`. ' +
        "With --allow-ffi the addon reads and writes the database directory itself, outside Deno's permission checks.",
      { cause: err },
    )
  }
  const permission = (process as { permission?: NodePermission }).permission
  let addonsDenied = false
  try {
    addonsDenied = permission !== undefined && !permission.has('addon')
  } catch {
    // an older permission model that does not know the scope: say nothing
  }
  if (addonsDenied) {
    return new Error(
      "kyrodb cannot load its native addon because Node's permission model (--permission) forbids addons: " +
        'add --allow-addons (the addon reads and writes the database directory itself, outside the fs permissions).',
      { cause: err },
    )
  }
  return err
}

function load(): typeof Binding {
  try {
    // A plain require, not an import: a failed load is caught and explained here.
    return require('../index.js') as typeof Binding
  } catch (err) {
    throw explainLoadFailure(err)
  }
}

export const native: typeof Binding = load()
export type { NativeCollection, NativeDatabase, NativeGroupOp, NativeGroupResult, NativeKv, NativeHits, NativeSearchOptions, NativeStored } from '../index.js'
