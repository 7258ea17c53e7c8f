#!/usr/bin/env node
/**
 * `kyrodb` command line: `kyrodb serve [host] [port] --data-dir <dir>`.
 * @module
 */
import { Command, InvalidArgumentError as CommanderArgError } from 'commander'
import { isIP } from 'node:net'
import { open } from './database.js'
import { createServer } from './server.js'

function parsePort(value: string): number {
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CommanderArgError('port must be an integer in 0..65535')
  return port
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return host === '::1'
}

/** Parse `argv` and run the chosen command. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command()
  program.name('kyrodb').description('KyroDB: embedded vector database and HTTP server')

  program
    .command('serve')
    .description('serve a database over HTTP')
    .argument('[host]', 'address to bind (loopback only until API keys exist)', '127.0.0.1')
    .argument('[port]', 'TCP port', parsePort, 3030)
    .option('--data-dir <dir>', 'database directory', './kyrodb-data')
    .option('--log-level <level>', 'pino log level (or RUST_LOG)', process.env.RUST_LOG ?? 'info')
    .action(async (host: string, port: number, opts: { dataDir: string; logLevel: string }) => {
      if (!isLoopback(host)) {
        program.error(`refusing to bind ${host}: this version has no API keys, so it serves loopback addresses only`)
      }
      const db = await open(opts.dataDir)
      const app = createServer({ db, logger: { level: opts.logLevel } })
      let stopping = false
      const stop = async (signal: string) => {
        if (stopping) return
        stopping = true
        app.log.info({ signal }, 'shutting down')
        await app.close() // finishes in-flight requests
        await db.close()
        process.exit(0)
      }
      process.on('SIGINT', () => void stop('SIGINT'))
      process.on('SIGTERM', () => void stop('SIGTERM'))
      await app.listen({ host, port })
    })

  await program.parseAsync(argv)
}

if (require.main === module) {
  main(process.argv).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err)
    process.exit(1)
  })
}
