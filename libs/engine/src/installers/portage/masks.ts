/**
 * Which binary packages are masked, as portage decides it for a binary package it would install
 * (getmaskingstatus.py, KeywordsManager.py, _emerge/Package.py `_eval_masks`): an EAPI portage
 * does not support (or a deprecated draft EAPI), a CHOST other than the profile's, and KEYWORDS
 * that ACCEPT_KEYWORDS does not accept. A masked package is never chosen; when only masked builds
 * would do, the error lists them with emerge's "(masked by: ...)" reasons and says how to accept
 * each one (package.mask, licences and RESTRICT are not kiln's business: binhosts carry no profile).
 */
import type { BinPackage } from './packages-index';

/** EAPIs portage supports (portage.const.EAPI = 9) and the draft ones it still reads but masks. */
const SUPPORTED_EAPIS = new Set(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '9-pre1']);
const DEPRECATED_EAPIS = new Set(['3_pre1', '3_pre2', '4_pre1', '5_pre1', '5_pre2', '6_pre1', '7_pre1']);
const NEWEST_EAPI = '9';

export interface MaskPolicy {
  /** The profile's ARCH and default ACCEPT_KEYWORDS ("amd64"). */
  arch: string;
  /** AcceptKeywords=: incremental on top of the profile's, as make.conf's ACCEPT_KEYWORDS is. */
  acceptKeywords: string[];
  /** The profile's CHOST; packages built for another are masked. */
  chost: string;
}

export interface MaskReason {
  /** As emerge prints it after "masked by:" ("~amd64 keyword", "EAPI 10", "CHOST: ..."). */
  reason: string;
  /** How to accept it, or why it cannot be. */
  hint: string;
}

/** ACCEPT_KEYWORDS after the incremental stacking portage does ("-*" clears, "-x" removes x). */
export function acceptedKeywords(policy: MaskPolicy): Set<string> {
  const out = new Set<string>();
  for (const k of [policy.arch, ...policy.acceptKeywords]) {
    if (k === '-*') out.clear();
    else if (k.startsWith('-')) out.delete(k.slice(1));
    else out.add(k);
  }
  return out;
}

/** Whether KEYWORDS are accepted (KeywordsManager._getMissingKeywords). */
function keywordsAccepted(accepted: Set<string>, keywords: string[]): boolean {
  let hasStable = false;
  let hasTesting = false;
  for (const k of keywords) {
    if (k === '*') return true;
    if (k === '~*') {
      hasTesting = true;
      if ([...accepted].some((a) => a.startsWith('~'))) return true;
    } else if (accepted.has(k)) return true;
    else if (k.startsWith('~')) hasTesting = true;
    else if (!k.startsWith('-')) hasStable = true;
  }
  return (hasTesting && accepted.has('~*')) || (hasStable && accepted.has('*')) || accepted.has('**');
}

/** The reasons a package is masked; empty when it may be installed. */
export function maskReasons(p: BinPackage, policy: MaskPolicy): MaskReason[] {
  const eapi = (p.eapi || '0').trim();
  // Portage stops at an EAPI it cannot read: nothing else of the package means anything then.
  if (!SUPPORTED_EAPIS.has(eapi) || DEPRECATED_EAPIS.has(eapi)) {
    return [{ reason: `EAPI ${eapi}`, hint: `kiln installs packages of EAPI 0 to ${NEWEST_EAPI}, as the portage it follows does; this build needs a newer package manager (use a binhost built with a supported EAPI)` }];
  }
  const out: MaskReason[] = [];
  const chost = (p.raw.CHOST ?? '').trim();
  if (chost && chost !== policy.chost) {
    out.push({ reason: `CHOST: ${chost}`, hint: `it was built for another system type than the profile's CHOST ${policy.chost}: use a binhost built for this profile (or PortageProfile= one whose CHOST is ${chost})` });
  }
  const accepted = acceptedKeywords(policy);
  const keywords = (p.raw.KEYWORDS ?? '').split(/\s+/).filter(Boolean);
  if (!keywordsAccepted(accepted, keywords)) out.push(keywordReason(accepted, keywords, policy));
  return out;
}

/** The KEYWORDS mask as getmaskingstatus names it, and the AcceptKeywords= value that lifts it. */
function keywordReason(accepted: Set<string>, keywords: string[], policy: MaskPolicy): MaskReason {
  let arch = policy.arch;
  const list = [...accepted];
  if (list.length && !accepted.has(arch)) arch = list[0].replace(/^~/, '');
  if (keywords.includes(`-${arch}`) && accepted.has(arch)) {
    return { reason: `-${arch} keyword`, hint: `its KEYWORDS say it does not work on ${arch}; AcceptKeywords=** accepts it anyway` };
  }
  if (keywords.includes(`~${arch}`) && accepted.has(arch)) {
    return { reason: `~${arch} keyword`, hint: `it is in testing on ${arch}: accept it with AcceptKeywords=~${arch}` };
  }
  return { reason: 'missing keyword', hint: `its KEYWORDS (${keywords.join(' ') || 'none'}) do not name ${arch}: accept it with AcceptKeywords=**` };
}

/** emerge's line for a masked package: "app-misc/foo-1.0::gentoo (masked by: ~amd64 keyword)". */
export function describeMasked(p: BinPackage, reasons: MaskReason[]): string {
  const build = p.buildId === null ? '' : ` (build ${p.buildId})`;
  const hints = [...new Set(reasons.map((r) => r.hint))].join('; ');
  return `${p.cpv}${p.repo ? `::${p.repo}` : ''}${build} (masked by: ${reasons.map((r) => r.reason).join(', ')}): ${hints}`;
}

/** The CHOST of a Gentoo profile (its make.defaults' CHOST), from the architecture and libc. */
export function profileChost(arch: string, profile: string): string {
  const musl = /(^|\/)musl(\/|$)/.test(profile);
  const x32 = /(^|\/)x32(\/|$)/.test(profile);
  const base: Record<string, string> = {
    amd64: x32 ? 'x86_64-pc-linux-gnux32' : 'x86_64-pc-linux-gnu',
    arm64: 'aarch64-unknown-linux-gnu',
    x86: 'i686-pc-linux-gnu',
    ppc64: 'powerpc64le-unknown-linux-gnu',
    riscv: 'riscv64-unknown-linux-gnu',
  };
  const chost = base[arch] ?? `${arch}-unknown-linux-gnu`;
  return musl ? chost.replace(/-gnu(x32)?$/, '-musl') : chost;
}
