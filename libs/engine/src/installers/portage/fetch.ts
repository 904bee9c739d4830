/**
 * Downloads for the Gentoo paths (binhost indexes and packages, stage3 releases): http(s) through
 * Node's fetch, tied to the build's AbortSignal, or file:// URLs for local mirrors. Failures are
 * BuildErrors naming the URL.
 */
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import type { BuildContext } from '../../context';
import { BuildError } from '../../errors';

/**
 * Socket errors a GET may meet through no fault of the server's content: chiefly a kept-alive
 * connection the server closed just as it was reused. The request is sent again (it is idempotent).
 */
const TRANSIENT = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
const ATTEMPTS = 3;

async function request(ctx: BuildContext, url: string): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, { signal: ctx.signal });
    } catch (e) {
      const cause = (e as Error).cause as (Error & { code?: string }) | undefined;
      if (attempt < ATTEMPTS && cause?.code && TRANSIENT.has(cause.code) && !ctx.signal?.aborted) continue;
      throw new BuildError(`cannot download ${url}: ${cause?.message ?? (e as Error).message}`, ctx.preset.name);
    }
  }
}

/** The bytes at `url`; null when it does not exist. */
export async function fetchBytes(ctx: BuildContext, url: string): Promise<Buffer | null> {
  if (url.startsWith('file://')) {
    try {
      return fs.readFileSync(new URL(url));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }
  const res = await request(ctx, url);
  if (res.status === 404 || res.status === 410) return null;
  if (!res.ok) throw new BuildError(`cannot download ${url}: HTTP ${res.status}`, ctx.preset.name);
  return Buffer.from(await res.arrayBuffer());
}

/**
 * Writes `url` to `dest` (a temporary name the caller renames once it has checked the bytes);
 * more than `maxSize` bytes is refused while downloading. `missing` is added to a 404's message.
 */
export async function fetchToFile(ctx: BuildContext, url: string, dest: string, opts: { maxSize?: number; missing?: string } = {}): Promise<void> {
  if (url.startsWith('file://')) {
    fs.copyFileSync(new URL(url), dest);
    return;
  }
  const res = await request(ctx, url);
  if (!res.ok || !res.body) throw new BuildError(`cannot download ${url}: HTTP ${res.status}${res.status === 404 && opts.missing ? ` (${opts.missing})` : ''}`, ctx.preset.name);
  const out = fs.createWriteStream(dest, { mode: 0o644 });
  try {
    let size = 0;
    for await (const chunk of Readable.fromWeb(res.body as ReadableStream)) {
      size += (chunk as Buffer).length;
      if (opts.maxSize !== undefined && size > opts.maxSize) throw new BuildError(`${url} is larger than the ${opts.maxSize} bytes its index says: refusing it`, ctx.preset.name);
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
  } finally {
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
}
