/**
 * Both executors run the kiln CLI of the workspace (@kiln/cli, resolved from the workspace root
 * when the task runs, so no target holds a path to it) as a child process: its signals, exit
 * code and output stay the CLI's own, and Nx shows the output as the task's. Run by an ordinary
 * user, the CLI enters its own user namespace for build, lock and clean (apps/kiln/src/rootless.ts),
 * so Nx needs no root either.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

export function kilnMain(workspaceRoot: string): string {
  return require.resolve('@kiln/cli/dist/main.js', { paths: [workspaceRoot, __dirname] });
}

/**
 * Verbosity cannot change an image, so it is not an option (options and overrides are part of
 * the task's hash): Nx's own `--verbose` (NX_VERBOSE_LOGGING) or KILN_VERBOSE=1 turn it on.
 */
export function verbose(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NX_VERBOSE_LOGGING === 'true' || env.KILN_VERBOSE === '1';
}

export function runKiln(workspaceRoot: string, args: string[]): Promise<{ success: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [kilnMain(workspaceRoot), ...args], { cwd: workspaceRoot, stdio: 'inherit' });
    // Ctrl-C reaches the child through the terminal's process group; a SIGTERM to Nx is passed on.
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGTERM', forward);
    child.on('error', (e) => {
      process.stderr.write(`kiln: cannot run ${path.basename(kilnMain(workspaceRoot))}: ${e.message}\n`);
      resolve({ success: false });
    });
    child.on('exit', (code) => {
      process.off('SIGTERM', forward);
      resolve({ success: code === 0 });
    });
  });
}
