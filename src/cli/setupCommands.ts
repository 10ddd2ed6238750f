import type { Command } from 'commander'
import type { CommandContext } from './commandContext.js'

/**
 * `careplus setup [--print]`: the one-time Snowflake setup. `--print` shows
 * all of it (the administrator's part and the pipeline's), generated from
 * the configuration; without it, the pipeline's part runs as the configured
 * user and role, and the stage is checked.
 */
export function registerSetupCommands(program: Command, ctx: CommandContext): void {
  program
    .command('setup')
    .description("Snowflake: create the pipeline's schemas, file format, stage and tables as $SNOWFLAKE_USER; --print shows the whole one-time SQL, the administrator's part included")
    .option('--print', 'print the SQL (administrator and pipeline parts) instead of running the pipeline part')
    .action(async (o: { print?: boolean }) => {
      const cfg = ctx.config()
      // Loaded when the command runs (see src/cli.ts).
      const [{ checkSnowflakeSettings }, { formatSetup, runSnowflakeSetup, snowflakeSetup }, { writeOut }] = await Promise.all([
        import('../config.js'),
        import('../warehouse/snowflakeSetup.js'),
        import('./output.js'),
      ])
      if (o.print) {
        // Printing needs no login: only the names and the bucket.
        checkSnowflakeSettings(cfg, process.cwd(), { login: false })
        await writeOut(process.stdout, formatSetup(snowflakeSetup(cfg)))
        return
      }
      checkSnowflakeSettings(cfg)
      await runSnowflakeSetup(cfg, { signal: ctx.signal, onStep: (line) => process.stdout.write(`${line}\n`) })
    })
}
