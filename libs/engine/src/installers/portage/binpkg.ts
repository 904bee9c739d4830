/**
 * Reading Gentoo binary packages, which come from outside and are untrusted: GPKG (GLEP 78) and
 * legacy XPAK.
 *
 * GPKG is an uncompressed tar whose members all sit under one `<basename>/`: `gpkg-1`,
 * `metadata.tar.<comp>` and `image.tar.<comp>` (each with a `.sig` when signed) and `Manifest`,
 * which records size, BLAKE2B and SHA512 of every other member and is clear-signed in a signed
 * package. A package is verified whole before anything of it is used: the container's shape, the
 * Manifest (and its signature), every member against it, and the detached signatures. The
 * members are copied into the work directory while hashing, so that what was verified is what
 * gets unpacked.
 *
 * XPAK is `<compressed tar><xpak block><u32 length>STOP`; it has no checksums of its own (the
 * binhost index's SIZE and MD5/SHA1 are checked when it is downloaded) and cannot be signed.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { verifyClearsigned, verifyDetached } from './openpgp';

export class BinpkgError extends Error {}

/** How a package's signatures are treated (BinpkgSignatures=, RepositoryKeyCheck=, GentooKeyring=). */
export interface SignaturePolicy {
  /** Keyring for gpgv; null: none configured. */
  keyring: string | null;
  /** Refuse packages that are not signed (BinpkgSignatures=required). */
  required: boolean;
  /** RepositoryKeyCheck=no: signatures are not checked (checksums still are). */
  skip: boolean;
}

/** A verified package: its metadata (`metadata/<KEY>` files) and a way to read its image tar. */
export interface Binpkg {
  format: 'gpkg' | 'xpak';
  signed: boolean;
  metadata: Map<string, Buffer>;
  /** The image as tar entries; names are relative to the image root (`image/` stripped). */
  image(): AsyncIterable<ImageEntry>;
}

export interface ImageEntry {
  header: tar.Header;
  /** The member's name under the image root, as the tar has it ("usr/bin/x", "./usr/bin/x"). */
  name: string;
  /** A hard link's target, under the image root like `name`. */
  linkname: string | null;
  stream: EntryStream;
}

/** One tar member's contents (a streamx stream: async-iterable, drained with resume()). */
type EntryStream = AsyncIterable<Buffer> & { header: tar.Header; resume(): unknown };

/** Hashes a GPKG Manifest may record, by Manifest name; Node's names. */
const HASHES: Record<string, string> = { BLAKE2B: 'blake2b512', SHA512: 'sha512', SHA256: 'sha256', SHA1: 'sha1', MD5: 'md5' };
/** A Manifest record must carry at least one of these: MD5 and SHA1 alone prove nothing. */
const STRONG = ['BLAKE2B', 'SHA512', 'SHA256'];

/** Decompressors by GPKG member suffix; zstd's window can be up to 2 GiB (--long=31). */
const DECOMPRESS: Record<string, string[]> = {
  zst: ['zstd', '-dcq', '--long=31'],
  xz: ['xz', '-dc'],
  gz: ['gzip', '-dc'],
  bz2: ['bzip2', '-dc'],
  lz4: ['lz4', '-dcq'],
  lz: ['lzip', '-dc'],
  lzo: ['lzop', '-dc'],
};

/** Verifies and opens a downloaded package; `work` is scratch space for its members. */
export async function openBinpkg(file: string, work: string, policy: SignaturePolicy): Promise<Binpkg> {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(512);
  fs.readSync(fd, head, 0, 512, 0);
  fs.closeSync(fd);
  // A ustar header at 0 whose name ends in /gpkg-1: GLEP 78 puts that member first.
  if (head.subarray(257, 262).toString('latin1') === 'ustar' && /\/gpkg-1$/.test(head.subarray(0, 100).toString('latin1').replace(/\0.*$/s, ''))) {
    return openGpkg(file, work, policy);
  }
  if (/\.gpkg\.tar$/.test(file)) throw new BinpkgError(`${path.basename(file)}: not a GPKG (no gpkg-1 member first)`);
  return openXpak(file, policy);
}

interface Member {
  name: string;
  size: number;
  digests: Record<string, string>;
  saved: string;
}

async function openGpkg(file: string, work: string, policy: SignaturePolicy): Promise<Binpkg> {
  const label = path.basename(file);
  const fail = (why: string): never => {
    throw new BinpkgError(`${label}: ${why}`);
  };
  fs.mkdirSync(work, { recursive: true });
  const members = new Map<string, Member>();
  let prefix: string | null = null;
  const extract = tar.extract();
  const reading = feed(fs.createReadStream(file), extract, label);
  for await (const entry of readable(extract, label)) {
    const h = entry.header;
    const parts = h.name.split('/');
    if (h.name.startsWith('/') || parts.length !== 2 || !parts[0] || !parts[1] || parts[1] === '.' || parts[1] === '..') fail(`member "${h.name}" is not <basename>/<file>: refusing the package`);
    if (h.type !== 'file') fail(`member "${h.name}" is a ${h.type}, not a file: refusing the package`);
    if (prefix !== null && parts[0] !== prefix) fail(`members under both "${prefix}/" and "${parts[0]}/": refusing the package`);
    prefix = parts[0];
    const name = parts[1];
    if (members.has(name)) fail(`member "${name}" appears twice: refusing the package`);
    const saved = path.join(work, name);
    const hashes = Object.fromEntries(Object.entries(HASHES).map(([k, alg]) => [k, createHash(alg)]));
    let size = 0;
    const out = await fs.promises.open(saved, 'wx', 0o600);
    try {
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        size += chunk.length;
        for (const h of Object.values(hashes)) h.update(chunk);
        await out.write(chunk);
      }
    } finally {
      await out.close();
    }
    members.set(name, { name, size, saved, digests: Object.fromEntries(Object.entries(hashes).map(([k, h]) => [k, h.digest('hex')])) });
  }
  await reading;
  if (!members.has('gpkg-1')) fail('no gpkg-1 member: not a GPKG');
  const manifestMember = members.get('Manifest') ?? fail('no Manifest: refusing an unverifiable package');
  let manifestText = fs.readFileSync(manifestMember.saved, 'utf8');
  const clearSigned = manifestText.includes('-----BEGIN PGP SIGNED MESSAGE-----');
  const signed = clearSigned || [...members.keys()].some((n) => n.endsWith('.sig'));
  if (!signed && policy.required && !policy.skip) fail('is not signed, and BinpkgSignatures=required');
  if (signed && !policy.skip) {
    if (!policy.keyring) fail('is signed, but no GentooKeyring= is set to verify it with (or set RepositoryKeyCheck=no)');
    if (!clearSigned) fail('has signatures but its Manifest is not signed: refusing the package');
    manifestText = await verifyClearsigned(manifestMember.saved, policy.keyring!, label).catch((e: Error) => fail(e.message));
  } else if (clearSigned) {
    manifestText = clearsignedText(manifestText);
  }

  const records = new Map<string, { size: number; hashes: Record<string, string> }>();
  for (const [i, line] of manifestText.split('\n').entries()) {
    const f = line.trim().split(/\s+/);
    if (f.length === 1 && f[0] === '') continue;
    if (f[0] !== 'DATA' || f.length < 3 || f.length % 2 !== 1 || !/^\d+$/.test(f[2])) fail(`Manifest line ${i + 1} is not "DATA <file> <size> <HASH> <hex>...": "${line}"`);
    if (records.has(f[1])) fail(`Manifest lists ${f[1]} twice: refusing the package`);
    const hashes: Record<string, string> = {};
    for (let k = 3; k < f.length; k += 2) hashes[f[k]] = f[k + 1].toLowerCase();
    records.set(f[1], { size: Number(f[2]), hashes });
  }
  for (const m of members.values()) {
    if (m.name === 'Manifest') continue;
    const r = records.get(m.name) ?? fail(`${m.name} has no Manifest entry: refusing the package`);
    if (r.size !== m.size) fail(`${m.name} is ${m.size} bytes, its Manifest says ${r.size}: refusing the package`);
    if (!STRONG.some((k) => k in r.hashes)) fail(`${m.name}'s Manifest entry has no BLAKE2B, SHA512 or SHA256: refusing the package`);
    for (const [k, v] of Object.entries(r.hashes)) {
      if (k in m.digests && m.digests[k] !== v) fail(`${m.name} does not match its Manifest ${k} (the package is damaged or was tampered with): refusing it`);
    }
  }
  for (const name of records.keys()) if (!members.has(name)) fail(`the Manifest lists ${name}, which the package does not have: refusing it`);

  const metadataName = [...members.keys()].find((n) => /^metadata\.tar(\.[a-z0-9]+)?$/.test(n)) ?? fail('no metadata.tar member');
  const imageName = [...members.keys()].find((n) => /^image\.tar(\.[a-z0-9]+)?$/.test(n)) ?? fail('no image.tar member');
  if (signed && !policy.skip) {
    for (const name of [metadataName, imageName]) {
      const sig = members.get(`${name}.sig`) ?? fail(`${name} has no signature (${name}.sig) in a signed package: refusing it`);
      await verifyDetached(sig.saved, members.get(name)!.saved, policy.keyring!, `${label}: ${name}`).catch((e: Error) => fail(e.message));
    }
  }

  const metadata = new Map<string, Buffer>();
  for await (const entry of tarEntries(members.get(metadataName)!.saved, suffixOf(metadataName), label, undefined, metadataName)) {
    const name = entry.header.name.replace(/^\.\//, '');
    const m = /^metadata\/([^/]+)$/.exec(name);
    if (entry.header.type === 'directory' && /^metadata\/?$/.test(name)) {
      entry.resume();
      continue;
    }
    if (!m || m[1] === '.' || m[1] === '..' || entry.header.type !== 'file') fail(`metadata member "${entry.header.name}" is not a file under metadata/: refusing the package`);
    if (metadata.has(m![1])) fail(`metadata member "${entry.header.name}" appears twice: refusing the package`);
    metadata.set(m![1], await readAll(entry));
  }
  const imageFile = members.get(imageName)!.saved;
  return {
    format: 'gpkg',
    signed,
    metadata,
    image: () => imageEntries(tarEntries(imageFile, suffixOf(imageName), label, undefined, imageName), 'image/'),
  };
}

async function openXpak(file: string, policy: SignaturePolicy): Promise<Binpkg> {
  const label = path.basename(file);
  const fail = (why: string): never => {
    throw new BinpkgError(`${label}: ${why}`);
  };
  if (policy.required && !policy.skip) fail('is an XPAK package, which cannot be signed, and BinpkgSignatures=required');
  const size = fs.statSync(file).size;
  const fd = fs.openSync(file, 'r');
  try {
    const tail = Buffer.alloc(8);
    if (size < 8 + 16) fail('is neither a GPKG nor an XPAK package');
    fs.readSync(fd, tail, 0, 8, size - 8);
    if (tail.subarray(4).toString('latin1') !== 'STOP') fail('has no XPAK trailer (it is truncated, or not a binary package): refusing it');
    const xlen = tail.readUInt32BE(0);
    const start = size - 8 - xlen;
    if (xlen < 24 || start < 0) fail('has a broken XPAK trailer');
    const xpak = Buffer.alloc(xlen);
    fs.readSync(fd, xpak, 0, xlen, start);
    if (xpak.subarray(0, 8).toString('latin1') !== 'XPAKPACK' || xpak.subarray(xlen - 8).toString('latin1') !== 'XPAKSTOP') fail('has a broken XPAK block');
    const indexLen = xpak.readUInt32BE(8);
    const dataLen = xpak.readUInt32BE(12);
    if (16 + indexLen + dataLen + 8 !== xlen) fail('has an XPAK block whose lengths do not add up');
    const index = xpak.subarray(16, 16 + indexLen);
    const data = xpak.subarray(16 + indexLen, 16 + indexLen + dataLen);
    const metadata = new Map<string, Buffer>();
    for (let p = 0; p < index.length; ) {
      if (p + 4 > index.length) fail('has a truncated XPAK index');
      const nameLen = index.readUInt32BE(p);
      if (p + 4 + nameLen + 8 > index.length) fail('has a truncated XPAK index');
      const name = index.subarray(p + 4, p + 4 + nameLen).toString('utf8');
      const off = index.readUInt32BE(p + 4 + nameLen);
      const len = index.readUInt32BE(p + 8 + nameLen);
      if (off + len > data.length || !/^[^/\0]+$/.test(name) || name === '.' || name === '..') fail(`has a bad XPAK index entry "${name}"`);
      metadata.set(name, Buffer.from(data.subarray(off, off + len)));
      p += 12 + nameLen;
    }
    const magic = Buffer.alloc(6);
    fs.readSync(fd, magic, 0, 6, 0);
    const comp = magic.subarray(0, 3).toString('latin1') === 'BZh' ? 'bz2' : magic.readUInt32LE(0) === 0xfd2fb528 ? 'zst' : magic[0] === 0x1f && magic[1] === 0x8b ? 'gz' : magic.toString('latin1') === '\xfd7zXZ\0' ? 'xz' : fail('has an image in an unknown compression');
    return {
      format: 'xpak',
      signed: false,
      metadata,
      image: () => imageEntries(tarEntries(file, comp as string, label, start), ''),
    };
  } finally {
    fs.closeSync(fd);
  }
}

/** The text of a clear-signed message without checking its signature (RepositoryKeyCheck=no). */
export function clearsignedText(text: string): string {
  const m = /-----BEGIN PGP SIGNED MESSAGE-----\r?\n(?:[^\n]+\r?\n)*\r?\n([\s\S]*?)\r?\n-----BEGIN PGP SIGNATURE-----/.exec(text);
  if (!m) return text;
  return m[1].split('\n').map((l) => l.replace(/^- /, '')).join('\n');
}

function suffixOf(member: string): string {
  return member.replace(/^(metadata|image)\.tar\.?/, '');
}

/** The entries of a (compressed) tar file, or of its first `end` bytes. */
async function* tarEntries(file: string, comp: string, label: string, end?: number, what = 'its image'): AsyncGenerator<EntryStream> {
  const input = fs.createReadStream(file, end === undefined ? {} : { end: end - 1 });
  let source: Readable = input;
  let child: ReturnType<typeof spawn> | null = null;
  let stderr = '';
  if (comp) {
    const cmd = DECOMPRESS[comp];
    if (!cmd) throw new BinpkgError(`${label}: unknown compression "${comp}"`);
    child = spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    input.pipe(child.stdin!);
    child.stdin!.on('error', () => undefined); // the decompressor's exit says what went wrong
    source = child.stdout!;
  }
  const exited = child ? new Promise<number>((resolve, reject) => {
    child!.on('error', (e) => reject(new BinpkgError(`${label}: cannot run ${DECOMPRESS[comp][0]}: ${e.message}`)));
    child!.on('close', (code) => resolve(code ?? 1));
  }) : Promise.resolve(0);
  const extract = tar.extract();
  const reading = feed(source, extract, label);
  try {
    try {
      for await (const entry of readable(extract, label)) yield entry as unknown as EntryStream;
      await reading;
    } catch (e) {
      // A damaged compressed stream: what the decompressor says is the better reason.
      // Drained, the decompressor of a finite file ends by itself; its exit code says if it failed.
      child?.stdout!.resume();
      const code = child ? await exited.catch(() => 0) : 0;
      if (code !== 0) throw new BinpkgError(`${label}: ${what} is damaged: ${DECOMPRESS[comp][0]} failed (exit code ${code}): ${stderr.trim().split('\n')[0].trim() || 'no message'}; refusing the package`);
      throw e;
    }
    const code = await exited;
    if (code !== 0) throw new BinpkgError(`${label}: ${what} is damaged: ${DECOMPRESS[comp][0]} failed (exit code ${code}): ${stderr.trim().split('\n')[0].trim() || 'no message'}; refusing the package`);
  } finally {
    if (child && child.exitCode === null) child.kill();
    input.destroy();
  }
}

async function* imageEntries(entries: AsyncIterable<EntryStream>, under: string): AsyncGenerator<ImageEntry> {
  for await (const entry of entries) {
    let name = entry.header.name;
    let linkname = entry.header.linkname ?? null;
    if (under) {
      const plain = name.replace(/^\.\//, '');
      if (plain === under || plain === under.replace(/\/$/, '')) {
        entry.resume();
        continue;
      }
      if (!plain.startsWith(under)) throw new BinpkgError(`image member "${name}" is not under ${under}: refusing the package`);
      name = plain.slice(under.length);
      if (entry.header.type === 'link' && linkname !== null) {
        const target = linkname.replace(/^\.\//, '');
        if (!target.startsWith(under)) throw new BinpkgError(`image member "${entry.header.name}" is a hard link to "${linkname}", outside ${under}: refusing the package`);
        linkname = target.slice(under.length);
      }
    }
    yield { header: entry.header, name, linkname: entry.header.type === 'link' ? linkname : null, stream: entry };
    // An entry the consumer did not read must still be drained for the next one to come.
    entry.resume();
  }
}

/**
 * A tar extractor's entries; its failures (a stream that ends inside a member: tar-stream's bare
 * "Unexpected end of data") become BinpkgErrors naming the package and the reason.
 */
async function* readable(extract: tar.Extract, label: string): AsyncGenerator<EntryStream> {
  try {
    for await (const entry of extract) yield entry as unknown as EntryStream;
  } catch (e) {
    if (e instanceof BinpkgError) throw e;
    const m = (e as Error).message;
    throw new BinpkgError(`${label}: ${/unexpected end/i.test(m) ? 'the package is truncated (its tar ends inside a member)' : `cannot read its tar (${m})`}; refusing the package`);
  }
}

/** Pipes a byte stream into a tar extractor; settles when the input has been read whole. */
function feed(source: Readable, extract: tar.Extract, label: string): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    const bad = (e: Error) => {
      reject(new BinpkgError(`${label}: cannot read its tar (${e.message})`));
      extract.destroy(e);
    };
    source.on('error', bad);
    extract.on('error', bad);
    extract.on('finish', () => resolve());
    source.pipe(extract as unknown as NodeJS.WritableStream);
  });
  // Awaited after the entries are read; a failure before that ends the entry loop by itself.
  done.catch(() => undefined);
  return done;
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
