/**
 * The credentials `kiln vm` gives the guest, from Credentials= (and mkosi.credentials/), as mkosi
 * 26 reads them when it boots: NAME=VALUE words as they are; a path (resolved by the config
 * reader) is a file named after the credential, whose contents are the value, or whose output is
 * when it is executable (stderr goes to the terminal), or a directory of such files. A later
 * entry of the same name wins, so Credentials= overrides mkosi.credentials/ (read first).
 * A file's value is bytes (a key, a binary blob): it travels in SMBIOS as
 * io.systemd.credential.binary (base64), a NAME=VALUE word as io.systemd.credential text.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseCredentials } from './vm-command';

export type Credential = [name: string, value: string | Buffer];

/** The credentials of `items`; a problem is thrown as an Error whose message names the item and the fix. */
export async function readCredentials(items: readonly string[], env: Record<string, string | undefined>): Promise<Credential[]> {
  const found = new Map<string, string | Buffer>();
  for (const item of items) {
    if (item.includes('=')) {
      const pairs = parseCredentials([item]);
      if (typeof pairs === 'string') throw new Error(pairs);
      for (const [name, value] of pairs) found.set(name, value);
      continue;
    }
    const st = fs.statSync(item, { throwIfNoEntry: false });
    if (!st) throw new Error(`Credentials=: ${item} does not exist (create it, or remove it from Credentials=)`);
    const files = st.isDirectory()
      ? fs.readdirSync(item).sort().map((n) => path.join(item, n)).filter((f) => !fs.statSync(f).isDirectory())
      : [item];
    for (const file of files) found.set(path.basename(file), await credentialValue(file, env));
  }
  return [...found];
}

async function credentialValue(file: string, env: Record<string, string | undefined>): Promise<Buffer> {
  const st = fs.statSync(file);
  if (!st.isFile()) throw new Error(`Credentials=: ${file} is not a regular file (a credential is a file's contents or an executable's output)`);
  let executable = true;
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    executable = false;
  }
  if (!executable) return fs.readFileSync(file);
  return new Promise<Buffer>((resolve, reject) => {
    const child = execFile(file, [], { cwd: path.dirname(file), env, encoding: 'buffer', maxBuffer: 64 * 1024 ** 2 }, (err, stdout) => {
      if (err) reject(new Error(`Credentials=: ${file} failed (${err.message.split('\n')[0]}); it is run because it is executable: fix it, or chmod -x it to pass its contents`));
      else resolve(stdout);
    });
    child.stderr?.pipe(process.stderr);
  });
}
