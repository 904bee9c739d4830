/**
 * Which dm-verity partitions an extension image gets, from Verity=, VerityKey= and
 * VerityCertificate= (mkosi 26's rules, with kiln's errors where mkosi would quietly drop the
 * signature):
 * - auto (the default): a hash and a signature partition when both the key and the certificate
 *   are given; none (the "unsigned" variant: the erofs partition alone) when neither is; one
 *   without the other is an error rather than an unsigned image the user did not ask for;
 * - signed (Verity=yes): hash and signature; the key and certificate must be given;
 * - hash: a hash partition and no signature (the root hash must then come from elsewhere);
 * - disabled (Verity=no): no verity at all;
 * - defer: hash and signature partitions, the signature's space left empty for a later
 *   signing step (extension.ts); no key needed.
 * (The registry decides the same from the same settings, to name the split partitions:
 * extensionVerity() in libs/config/src/formats/extension.ts.)
 */
import { cfg, type BuildContext } from '../context';

export type VerityPlan = { kind: 'none' } | { kind: 'hash' } | { kind: 'defer' } | { kind: 'signed'; key: string; certificate: string };

/** What the preset's settings ask for; a message naming the settings and the fix when they do not fit. */
export function verityPlan(ctx: BuildContext): VerityPlan | { error: string } {
  const mode = cfg(ctx, 'Verity');
  const key = cfg(ctx, 'VerityKey');
  const certificate = cfg(ctx, 'VerityCertificate');
  switch (mode) {
    case 'disabled':
      return { kind: 'none' };
    case 'hash':
      return { kind: 'hash' };
    case 'defer':
      return { kind: 'defer' };
    case 'signed':
      if (!key || !certificate) {
        const missing = [!key && 'VerityKey=', !certificate && 'VerityCertificate='].filter(Boolean).join(' and ');
        return { error: `Verity=signed needs a key and its certificate, and ${missing} ${missing.includes(' and ') ? 'are' : 'is'} not set: set them in the main image's [Validation] (or mkosi.key and mkosi.crt), or use Verity=hash` };
      }
      return { kind: 'signed', key, certificate };
    default:
      if (key && certificate) return { kind: 'signed', key, certificate };
      if (key) return { error: 'VerityKey= is set but VerityCertificate= is not: the verity signature needs both (set VerityCertificate= to the key\'s X.509 certificate, or remove VerityKey= for an unsigned image)' };
      if (certificate) return { error: 'VerityCertificate= is set but VerityKey= is not: the verity signature needs both (set VerityKey= to the certificate\'s private key, or remove VerityCertificate= for an unsigned image)' };
      return { kind: 'none' };
  }
}
