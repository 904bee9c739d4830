/**
 * Signed build manifests, with OpenSSH's own signatures (`ssh-keygen -Y sign` / `-Y verify`, the
 * format git uses for signed commits): no key format or crypto of kiln's own.
 *
 *  - KILN_SIGNING_KEY=FILE, the team's private key (on CI, where main is built): a build signs its
 *    manifest, and OUTPUT.manifest.json.sig is published with it (before it, the manifest last).
 *  - KILN_ALLOWED_SIGNERS=FILE, an allowed-signers file (ssh-keygen(1), ALLOWED SIGNERS; the same
 *    file as git's gpg.ssh.allowedSignersFile): a restored output is used, and `kiln verify`
 *    passes, only when its manifest is signed by a key listed there.
 *
 * The manifest records the SHA-256 of every output file (output-check.ts), so a signature over it
 * covers the whole set. These are environment variables, not settings: a key is the machine's
 * (CI has it, a laptop does not), and neither changes an image.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { which } from '@kiln/config';
import { BuildError } from './errors';
import { toolEnv } from './exec';

/** The signature namespace (ssh-keygen -n): a kiln signature is never valid as a git or file one. */
export const NAMESPACE = 'kiln-manifest';

export function sshKeygen(env: Record<string, string | undefined>, why: string): string {
  const tool = which('ssh-keygen', env);
  if (!tool) throw new BuildError(`${why} needs ssh-keygen, which is not installed: apt-get install openssh-client`);
  return tool;
}

/** The one line ssh-keygen gave as its reason. */
const reason = (r: { stderr: string; stdout: string; status: number | null }) =>
  (r.stderr || r.stdout).trim().split('\n').filter(Boolean).pop() ?? `exit code ${r.status}`;

function checkKeyFile(key: string, label?: string): void {
  if (!path.isAbsolute(key) || !fs.existsSync(key)) throw new BuildError(`KILN_SIGNING_KEY=${key}: no such file (give the absolute path of the private key that signs build manifests)`, label);
}

/**
 * KILN_SIGNING_KEY, when set, as a build will use it, checked before the build starts rather than
 * after it (minutes later, with nothing cached): the file is there, ssh-keygen is installed, and
 * the key loads without a passphrase (a build signs without anyone to type one).
 */
export function checkSigningKey(env: Record<string, string | undefined>): void {
  const key = env.KILN_SIGNING_KEY;
  if (!key) return;
  checkKeyFile(key);
  // -P '': the empty passphrase, never a prompt.
  const r = spawnSync(sshKeygen(env, 'KILN_SIGNING_KEY'), ['-y', '-P', '', '-f', key], { encoding: 'utf8', env: toolEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new BuildError(`KILN_SIGNING_KEY=${key}: not a private key a build can sign with (${reason(r)}; a build signs unattended: use a key without a passphrase)`);
}

/**
 * Signs `manifest` (a file in the build's work directory) with KILN_SIGNING_KEY when it is set:
 * returns the signature file (MANIFEST.sig beside it), or null when no key is set.
 */
export function signManifest(manifest: string, env: Record<string, string | undefined>, label?: string): string | null {
  const key = env.KILN_SIGNING_KEY;
  if (!key) return null;
  checkKeyFile(key, label);
  const sig = `${manifest}.sig`;
  fs.rmSync(sig, { force: true }); // ssh-keygen asks before overwriting
  const r = spawnSync(sshKeygen(env, 'KILN_SIGNING_KEY'), ['-q', '-Y', 'sign', '-f', key, '-n', NAMESPACE, manifest], { encoding: 'utf8', env: toolEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0 || !fs.existsSync(sig)) throw new BuildError(`signing the build manifest with KILN_SIGNING_KEY=${key} failed: ${reason(r)}`, label);
  return sig;
}

/**
 * Whether `sig` is a signature of `manifest` by a key in the allowed-signers file: null when it
 * is, else why not.
 */
export function signatureProblem(manifest: string, sig: string, allowed: string, env: Record<string, string | undefined>): string | null {
  if (!fs.existsSync(sig)) return 'unsigned (no signature beside the manifest)';
  const tool = sshKeygen(env, 'KILN_ALLOWED_SIGNERS');
  const opts = { encoding: 'utf8' as const, env: toolEnv(env) };
  // Who signed it, among the allowed signers; then the signature itself, as that principal.
  const found = spawnSync(tool, ['-Y', 'find-principals', '-s', sig, '-f', allowed], { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  const principal = found.status === 0 ? found.stdout.split('\n')[0].trim() : '';
  if (!principal) return `signed by a key that is not in KILN_ALLOWED_SIGNERS=${allowed}`;
  const r = spawnSync(tool, ['-Y', 'verify', '-f', allowed, '-I', principal, '-n', NAMESPACE, '-s', sig], { ...opts, input: fs.readFileSync(manifest) });
  return r.status === 0 ? null : `the signature does not verify (${reason(r)})`;
}
