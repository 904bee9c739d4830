/**
 * The suites' remote cache: tools/nx-cache-server/serve.js as a child process (Nx runs with
 * spawnSync, which blocks jest's event loop, so the server cannot live in the test's process), its
 * URL, and the lines it logs ("METHOD HASH STATUS BYTES"), which tests wait on.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { repo } from './workspace';

export type CacheServer = {
  url: string;
  /** Every line logged so far, the URL first. */
  lines: string[];
  /** Resolves with the first logged line matching `re` (already logged or to come). */
  waitFor(re: RegExp): Promise<string>;
  stop(): Promise<void>;
};

export const serveJs = path.join(repo, 'tools/nx-cache-server/serve.js');

export function startCacheServer(dir: string, tokens: string[]): Promise<CacheServer> {
  const child = spawn(process.execPath, [serveJs, '--dir', dir, ...tokens.flatMap((t) => ['--token', t])], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let stderr = '';
  let rest = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => {
    const parts = (rest + d).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters.filter((w) => w.re.test(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const waitFor = (re: RegExp) =>
    new Promise<string>((resolve) => {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) resolve(seen);
      else waiters.push({ re, resolve });
    });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`serve.js exited (${code}) before printing its URL:\n${stderr}`)));
    waitFor(/^http:\/\//).then((url) =>
      resolve({
        url,
        lines,
        waitFor,
        stop: () => {
          child.kill('SIGTERM');
          return exited;
        },
      }),
    );
  });
}
