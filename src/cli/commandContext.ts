import type { Config } from '../config.js'

/**
 * What every command's module receives from the CLI's registry (src/cli.ts):
 * the configuration, read on first use, and the command's abort signal
 * (SIGINT/SIGTERM). The registry loads a command's module only when the
 * command runs, so a command pays for the modules it uses and no others.
 */
export interface CommandContext {
  config: () => Config
  signal: AbortSignal
}
