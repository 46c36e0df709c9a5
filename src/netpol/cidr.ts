// Parses IPv4 and IPv6 addresses and CIDR blocks for NetworkPolicy ipBlock peers.

export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

export interface CidrBlock {
  family: 4 | 6;
  prefixLength: number;
  /** Number of host bits, so that `address >> hostBits` is the network part. */
  hostBits: bigint;
  networkPart: bigint;
}

const DECIMAL_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) {
    return undefined;
  }
  let value = 0n;
  for (const part of parts) {
    // Leading zeros are rejected, as Go's net.ParseIP does since Go 1.17.
    if (!DECIMAL_OCTET.test(part) || Number(part) > 255) {
      return undefined;
    }
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseIPv6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) {
    return undefined;
  }
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : [];

  // A dotted IPv4 address may end the text, standing for the last two groups.
  const lastGroups = halves.length === 2 ? tail : head;
  const last = lastGroups[lastGroups.length - 1];
  if (last !== undefined && last.includes('.')) {
    const embedded = parseIPv4(last);
    if (embedded === undefined) {
      return undefined;
    }
    lastGroups.splice(lastGroups.length - 1, 1, (embedded >> 16n).toString(16), (embedded & 0xffffn).toString(16));
  }

  if (![...head, ...tail].every((group) => HEX_GROUP.test(group))) {
    return undefined;
  }
  const omitted = 8 - head.length - tail.length;
  if (halves.length === 2 ? omitted < 1 : omitted !== 0) {
    return undefined;
  }

  const groups = [...head, ...new Array<string>(halves.length === 2 ? omitted : 0).fill('0'), ...tail];
  let value = 0n;
  for (const group of groups) {
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}

// NOTE: IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) stay IPv6, so they never
// match an IPv4 ipBlock. Network plugins differ on this case.
export function parseIpAddress(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const value = parseIPv6(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseIPv4(text);
  return value === undefined ? undefined : { family: 4, value };
}

/** Parses `address/prefix`, or returns the reason the text is not a valid CIDR. */
export function parseCidr(text: string): CidrBlock | string {
  const slash = text.indexOf('/');
  if (slash < 0) {
    return 'missing the "/prefix" part';
  }
  const address = parseIpAddress(text.slice(0, slash));
  if (address === undefined) {
    return `"${text.slice(0, slash)}" is not an IPv4 or IPv6 address`;
  }
  const maxPrefix = address.family === 4 ? 32 : 128;
  const prefixText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > maxPrefix) {
    return `prefix length must be an integer from 0 to ${maxPrefix} for IPv${address.family}`;
  }

  const prefixLength = Number(prefixText);
  const hostBits = BigInt(maxPrefix - prefixLength);
  const networkPart = address.value >> hostBits;
  // The API server rejects host bits in new objects since Kubernetes 1.33.
  if (networkPart << hostBits !== address.value) {
    return `the address has bits set beyond the /${prefixLength} prefix`;
  }
  return { family: address.family, prefixLength, hostBits, networkPart };
}

export function cidrContains(block: CidrBlock, address: IpAddress): boolean {
  return block.family === address.family && address.value >> block.hostBits === block.networkPart;
}
