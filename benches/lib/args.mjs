// Command-line options of the benchmark scripts: `--name value` and bare `--flag`.

const ARGS = process.argv.slice(2)

/** The value after `--name`, or `dflt` when the option is absent. */
export function option(name, dflt) {
  const i = ARGS.indexOf(`--${name}`)
  return i >= 0 ? ARGS[i + 1] : dflt
}

/** Whether the bare `--name` was given. */
export function flag(name) {
  return ARGS.includes(`--${name}`)
}
