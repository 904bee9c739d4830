/**
 * The value a default file gives a setting whose file holds text rather than being a path
 * (mkosi.version for ImageVersion=, mkosi.seed for Seed=; mkosi's path_read_text settings): as
 * mkosi 26's file_run_or_read, an executable file is run and its output is the value; any other
 * file is read, and one starting with "#!/" is refused (it was meant to be executable).
 *
 * The config library does not run anything itself (the engine, which runs things, depends on it):
 * the caller passes a ScriptRunner in LoadOptions. kiln's (engine config-script.ts) runs the file
 * in kiln's sandbox: the host and the project read-only, a private /tmp, in the config directory,
 * with mkosi's environment. A read that ran a script is never taken from the facts cache
 * (probe.ran), so the Nx fingerprint runs it again each time: its output is part of the settings
 * hash (a script printing the date changes the version, and the hash, daily).
 */
import { ConfigError } from './errors';
import * as probe from './probe';

/** Runs an executable config file (`file`) and returns its standard output; throws an Error saying why it failed. */
export type ScriptRunner = (file: string, opts: { cwd: string; env: Record<string, string | undefined> }) => string;

export interface FileValueContext {
  /** The config directory being read: the script's working directory (mkosi's too). */
  dir: string;
  env: Record<string, string | undefined>;
  runScript?: ScriptRunner;
  /** Outputs of scripts already run in this read: each runs once per read. */
  outputs: Map<string, string>;
  /** Reads a file's text (the reader's, with its errors). */
  readText(file: string): string;
}

/** The value `file` gives its setting: its output when executable, its text otherwise, trailing white space removed. */
export function fileValue(file: string, setting: string, c: FileValueContext): string {
  if (!probe.isExecutable(file)) {
    const text = c.readText(file);
    if (text.startsWith('#!/')) {
      throw new ConfigError(`starts with a shebang (${text.split('\n')[0]}) but is not executable, so ${setting}= would be the script's text (make it executable: chmod +x)`, { file, line: 0 });
    }
    return text.trim();
  }
  probe.ran(file);
  const done = c.outputs.get(file);
  if (done !== undefined) return done;
  if (!c.runScript) {
    throw new ConfigError(`is executable, so its output is ${setting}=, and this caller of kiln's reader cannot run scripts (pass LoadOptions.runScript; the kiln CLI and the Nx plugin do)`, { file, line: 0 });
  }
  let out: string;
  try {
    out = c.runScript(file, { cwd: c.dir, env: c.env }).trim();
  } catch (e) {
    throw new ConfigError(`is executable and gives ${setting}=, but running it failed: ${(e as Error).message}`, { file, line: 0 });
  }
  if (out === '') throw new ConfigError(`is executable and gives ${setting}=, but it printed nothing (print the value on standard output)`, { file, line: 0 });
  c.outputs.set(file, out);
  return out;
}
