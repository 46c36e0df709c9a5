// ipBlock peers, compiled once and indexed by CIDR prefix for address lookups.

import { cidrContains, parseCidr, type CidrBlock, type IpAddress } from './cidr.js';
import { describeValue, readObject, readOptionalList, type Fail } from './validation.js';

/** Interned ipBlock: `cidr` minus the `except` ranges. */
interface CompiledIpBlock {
  id: number;
  cidr: CidrBlock;
  except: CidrBlock[];
}

function compileCidr(text: unknown, path: string, fail: Fail): CidrBlock {
  if (typeof text !== 'string') {
    return fail(path, `expected a CIDR string such as "10.0.0.0/8", got ${describeValue(text)}`);
  }
  const block = parseCidr(text);
  if (typeof block === 'string') {
    return fail(path, `invalid CIDR "${text}": ${block}`);
  }
  return block;
}

/**
 * Distinct ipBlocks of all policies, indexed so that the blocks containing an
 * address are found with one map lookup per prefix length in use.
 */
export class IpBlockTable {
  private readonly byCanonicalForm = new Map<string, CompiledIpBlock>();
  /** Blocks by family, then by CIDR prefix length, then by network part. */
  private readonly index = new Map<4 | 6, Map<number, Map<bigint, CompiledIpBlock[]>>>();
  private readonly signatures = new Map<string, ReadonlySet<number>>();

  compile(raw: unknown, path: string, fail: Fail): CompiledIpBlock {
    const ipBlock = readObject(raw, path, ['cidr', 'except'], fail);
    const cidr = compileCidr(ipBlock.cidr, `${path}.cidr`, fail);
    const except = (readOptionalList(ipBlock.except, `${path}.except`, fail) ?? []).map((item, index) => {
      const exceptPath = `${path}.except[${index}]`;
      const block = compileCidr(item, exceptPath, fail);
      const insideCidr =
        block.family === cidr.family && block.networkPart >> (cidr.hostBits - block.hostBits) === cidr.networkPart;
      if (!insideCidr || block.prefixLength <= cidr.prefixLength) {
        fail(exceptPath, `"${String(item)}" must be a strict subset of cidr "${String(ipBlock.cidr)}"`);
      }
      return block;
    });

    const canonicalForm = [cidr, ...except].map(formatCidrKey).join(' ');
    const existing = this.byCanonicalForm.get(canonicalForm);
    if (existing !== undefined) {
      return existing;
    }
    const compiled: CompiledIpBlock = { id: this.byCanonicalForm.size, cidr, except };
    this.byCanonicalForm.set(canonicalForm, compiled);

    let byPrefix = this.index.get(cidr.family);
    if (byPrefix === undefined) {
      byPrefix = new Map();
      this.index.set(cidr.family, byPrefix);
    }
    let byNetwork = byPrefix.get(cidr.prefixLength);
    if (byNetwork === undefined) {
      byNetwork = new Map();
      byPrefix.set(cidr.prefixLength, byNetwork);
    }
    const sameNetwork = byNetwork.get(cidr.networkPart);
    if (sameNetwork === undefined) {
      byNetwork.set(cidr.networkPart, [compiled]);
    } else {
      sameNetwork.push(compiled);
    }
    return compiled;
  }

  /**
   * Returns the ids of the blocks that contain `address`. Equal results are
   * returned as the same Set, so the Set can serve as a class key.
   */
  blocksContaining(address: IpAddress | undefined): ReadonlySet<number> {
    const ids: number[] = [];
    const byPrefix = address === undefined ? undefined : this.index.get(address.family);
    if (address !== undefined && byPrefix !== undefined) {
      const maxPrefix = address.family === 4 ? 32 : 128;
      for (const [prefixLength, byNetwork] of byPrefix) {
        const candidates = byNetwork.get(address.value >> BigInt(maxPrefix - prefixLength)) ?? [];
        for (const block of candidates) {
          if (!block.except.some((excluded) => cidrContains(excluded, address))) {
            ids.push(block.id);
          }
        }
      }
    }
    ids.sort((a, b) => a - b);
    const key = ids.join(',');
    let signature = this.signatures.get(key);
    if (signature === undefined) {
      signature = new Set(ids);
      this.signatures.set(key, signature);
    }
    return signature;
  }
}

function formatCidrKey(block: CidrBlock): string {
  return `${block.family}:${block.networkPart.toString(16)}/${block.prefixLength}`;
}
