/**
 * OpenPGP verification with gpgv (GnuPG's verify-only tool): stage3 `latest-*.txt` and DIGESTS
 * files, and signed binary packages. gpgv trusts exactly the keys in the keyring it is given and
 * runs with a throw-away home directory, so the user's ~/.gnupg is neither read nor written. An
 * armoured keyring (a `.asc` as projects publish their keys) is converted once per process with
 * `gpg --dearmor`, which gpgv needs.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
let home: string | null = null;
const dearmored = new Map<string, string>();

function gpgHome(): string {
  if (!home) {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-gpgv-'));
    process.once('exit', () => fs.rmSync(home!, { recursive: true, force: true }));
  }
  return home;
}

async function keyringFile(keyring: string): Promise<string> {
  let text: Buffer;
  try {
    text = fs.readFileSync(keyring);
  } catch (e) {
    throw new Error(`cannot read the keyring ${keyring}: ${(e as Error).message}`);
  }
  if (!text.subarray(0, 64).toString('latin1').includes('-----BEGIN PGP')) return path.resolve(keyring);
  const key = `${path.resolve(keyring)}:${text.length}:${fs.statSync(keyring).mtimeMs}`;
  let out = dearmored.get(key);
  if (!out) {
    out = path.join(gpgHome(), `keyring-${dearmored.size}.gpg`);
    await exec('gpg', ['--batch', '--homedir', gpgHome(), '--yes', '--output', out, '--dearmor', path.resolve(keyring)]).catch((e: Error & { stderr?: string }) => {
      throw new Error(`${keyring} is not an OpenPGP keyring (gpg --dearmor: ${(e.stderr ?? e.message).trim()})`);
    });
    dearmored.set(key, out);
  }
  return out;
}

async function gpgv(args: string[], keyring: string, what: string): Promise<string> {
  const ring = await keyringFile(keyring);
  try {
    const r = await exec('gpgv', ['--homedir', gpgHome(), '--keyring', ring, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
    return r.stdout;
  } catch (e) {
    const err = e as Error & { code?: string | number; stderr?: string };
    if (err.code === 'ENOENT') throw new Error(`${what}: gpgv is not installed (Debian: apt-get install gpgv)`);
    const why = (err.stderr ?? '').split('\n').filter((l) => /BAD|bad|No public key|no valid|not a detached|no signature|verify signatures failed/i.test(l)).join('; ');
    throw new Error(`${what}: the OpenPGP signature does not verify against ${keyring}${why ? ` (${why.replace(/gpgv: /g, '')})` : ''}`);
  }
}

/** The signed text of a clear-signed file, only if its signature verifies against `keyring`. */
export async function verifyClearsigned(file: string, keyring: string, what: string): Promise<string> {
  return gpgv(['--output', '-', file], keyring, what);
}

/** Checks a detached signature (armoured or binary) of `data`. */
export async function verifyDetached(signature: string, data: string, keyring: string, what: string): Promise<void> {
  await gpgv([signature, data], keyring, what);
}

/**
 * A GnuPG home in `dir` holding the keys of `keyring`, each trusted ultimately: what portage's
 * binary package verification (BINPKG_GPG_VERIFY_GPG_HOME) accepts, as getuto would set it up
 * from Gentoo's keys.
 */
export async function trustedHome(dir: string, keyring: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const gpg = (args: string[], input?: string) => {
    const p = exec('gpg', ['--batch', '--no-tty', '--homedir', dir, ...args], { encoding: 'utf8' });
    if (input !== undefined) p.child.stdin!.end(input);
    return p;
  };
  try {
    await gpg(['--import', path.resolve(keyring)]);
    const { stdout } = await gpg(['--with-colons', '--list-keys']);
    const fprs = [...stdout.matchAll(/^pub:(?:.*\n)+?fpr:+([0-9A-F]{40,64}):/gm)].map((m) => m[1]);
    if (!fprs.length) throw new Error('it holds no public keys');
    await gpg(['--import-ownertrust'], fprs.map((f) => `${f}:6:\n`).join(''));
    await gpg(['--check-trustdb']);
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`cannot make a GnuPG home from the keyring ${keyring}: ${(err.stderr || err.message).trim()}`);
  } finally {
    await exec('gpgconf', ['--homedir', dir, '--kill', 'all']).catch(() => undefined);
  }
}
