import { TOPOLOGY_API_VERSION } from './validate.js';

/** A built-in topology the user can pick instead of writing a file. */
export interface Preset {
  name: string;
  description: string;
  document: Record<string, unknown>;
}

const WORKSHOP: Preset = {
  name: 'workshop',
  description: 'hero, a web app, and its PostgreSQL database lil-deebee in another namespace',
  document: {
    apiVersion: TOPOLOGY_API_VERSION,
    kind: 'Topology',
    metadata: { name: 'hero' },
    spec: {
      namespace: 'production',
      services: [
        {
          name: 'hero',
          image: 'docker.io/vfarcic/cncf-demo:v0.0.1',
          ports: [{ port: 8080, protocol: 'http' }],
          env: {
            DB_ENDPOINT: 'lil-deebee.data.svc.cluster.local',
            DB_PORT: '5432',
            DB_USER: 'postgres',
            DB_NAME: 'postgres',
            DB_PASS: { secret: 'db-password' },
          },
          calls: ['lil-deebee'],
        },
        {
          name: 'lil-deebee',
          namespace: 'data',
          image: 'docker.io/library/postgres:17',
          env: { POSTGRES_PASSWORD: { secret: 'db-password' } },
          ports: [{ port: 5432, protocol: 'postgres' }],
        },
      ],
    },
  },
};

const BOOKINFO_TAG = '1.20.3';
const bookinfoImage = (name: string) => `registry.istio.io/release/examples-bookinfo-${name}:${BOOKINFO_TAG}`;

/** Istio's Bookinfo sample (samples/bookinfo at Istio 1.30.3): reviews v2, which shows ratings, stands for reviews. */
const BOOKINFO: Preset = {
  name: 'bookinfo',
  description: "Istio's Bookinfo sample: productpage calls details and reviews, reviews calls ratings",
  document: {
    apiVersion: TOPOLOGY_API_VERSION,
    kind: 'Topology',
    metadata: { name: 'bookinfo' },
    spec: {
      namespace: 'bookinfo',
      services: [
        { name: 'productpage', image: bookinfoImage('productpage-v1'), ports: [{ port: 9080, name: 'http', protocol: 'http' }], calls: ['details', 'reviews'] },
        { name: 'details', image: bookinfoImage('details-v1'), ports: [{ port: 9080, name: 'http', protocol: 'http' }] },
        { name: 'reviews', image: bookinfoImage('reviews-v2'), ports: [{ port: 9080, name: 'http', protocol: 'http' }], calls: ['ratings'] },
        { name: 'ratings', image: bookinfoImage('ratings-v1'), ports: [{ port: 9080, name: 'http', protocol: 'http' }] },
      ],
    },
  },
};

export const PRESETS: readonly Preset[] = [WORKSHOP, BOOKINFO];
export const DEFAULT_PRESET = WORKSHOP.name;

export function findPreset(name: string): Preset | undefined {
  return PRESETS.find((preset) => preset.name === name);
}
