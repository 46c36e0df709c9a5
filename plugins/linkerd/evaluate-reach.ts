import type { Service, ServicePort } from '../../src/topology/types.js';

/** A client identity match, as Linkerd parses it: exact, or `*` / `*.suffix`. */
export type IdentityMatch = { exact: string } | { suffix: string };

/**
 * The clients a port may admit, as the evaluator's `decide` reads its resources. `everyone` admits clients with
 * or without a proxy, and `meshed` admits every client with one. `identities` admits only meshed clients whose
 * identity one of the matches accepts, so an empty list admits no client.
 */
export type Admission = { kind: 'everyone' } | { kind: 'meshed' } | { kind: 'identities'; identities: IdentityMatch[] };

/** The services each client identity may reach, built once from the admission of every service port. */
export interface ReachIndex {
  /**
   * Returns the names of the services a client may reach on some port: `identity` is the client's Linkerd
   * identity, or undefined for a client without a proxy. It may name a service more than once.
   */
  targetsOf(identity: string | undefined): string[];
}

/**
 * Builds the index behind `mayReach`. Each service goes into one of four places, by the widest admission
 * among its ports: open to everyone, open to every meshed client, or under each exact identity and each
 * identity suffix that its ports name. A lookup then costs the size of its result plus one map lookup per
 * dot in the client's identity.
 */
export function buildReachIndex(services: readonly Service[], admissionOf: (target: Service, port: ServicePort) => Admission): ReachIndex {
  const everyone: string[] = [];
  const meshed: string[] = [];
  const byExact = new Map<string, string[]>();
  const bySuffix = new Map<string, string[]>();

  for (const service of services) {
    // Plain loops instead of map, some and flatMap, because this runs once and mostly before V8 optimizes it.
    let open = false;
    let anyMeshed = false;
    const identities: IdentityMatch[] = [];
    for (const port of service.ports) {
      const admission = admissionOf(service, port);
      if (admission.kind === 'everyone') {
        open = true;
        break;
      }
      if (admission.kind === 'meshed') anyMeshed = true;
      else for (const match of admission.identities) identities.push(match);
    }
    if (open) {
      everyone.push(service.name);
      continue;
    }
    // The suffix of `*` is empty and matches every identity, so it opens the service to every meshed client.
    if (anyMeshed || identities.some((match) => 'suffix' in match && match.suffix === '')) {
      meshed.push(service.name);
      continue;
    }
    for (const match of identities) {
      const index = 'exact' in match ? byExact : bySuffix;
      const key = 'exact' in match ? match.exact : match.suffix;
      const names = index.get(key);
      if (!names) index.set(key, [service.name]);
      else if (names[names.length - 1] !== service.name) names.push(service.name);
    }
  }

  return {
    targetsOf(identity) {
      if (identity === undefined) return [...everyone];
      const found = [...everyone, ...meshed, ...(byExact.get(identity) ?? [])];
      // A suffix match needs a dot before the suffix (see PolicyIndex), so only the text after each dot can match.
      for (let dot = identity.indexOf('.'); dot !== -1; dot = identity.indexOf('.', dot + 1)) {
        found.push(...(bySuffix.get(identity.slice(dot + 1)) ?? []));
      }
      return found;
    },
  };
}
