import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { istioPlugin } from '../plugins/istio/index.js';
import { generatePreset, writeTreeToTemp } from './helpers/generate.js';

// The probe runs in a busybox image in the cluster. Here it runs under Debian's busybox with only busybox
// applets on the PATH, against local servers that behave like allowed and refused peers.
const busybox = spawnSync('which', ['busybox'], { encoding: 'utf8' }).stdout.trim() || 'busybox';
let appletDirectory: string;
let repository: string;
const servers: Server[] = [];

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

function probe(port: number, protocol: string, mode = 'proxy', host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(busybox, ['sh', join(repository, 'verify/probe.sh'), host, String(port), protocol, mode], { env: { PATH: appletDirectory } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', () => resolve(output.trim()));
  });
}

beforeAll(() => {
  appletDirectory = mkdtempSync(join(tmpdir(), 'busybox-applets-'));
  for (const applet of ['nc', 'timeout', 'head', 'tr', 'sleep', 'printf', 'cat']) symlinkSync(busybox, join(appletDirectory, applet));
  repository = writeTreeToTemp(generatePreset(istioPlugin));
});

afterAll(() => {
  for (const server of servers) server.close();
  rmSync(appletDirectory, { recursive: true, force: true });
  rmSync(repository, { recursive: true, force: true });
});

describe.concurrent('verification probe', () => {
  it('reports an HTTP server that answers as open', async () => {
    const port = await listen(createHttpServer((_request, response) => response.end('hello')) as unknown as Server);
    expect(await probe(port, 'http')).toBe('open');
  });

  it('reports a 403 from a mesh proxy as closed', async () => {
    const port = await listen(createHttpServer((_request, response) => response.writeHead(403).end('RBAC: access denied')) as unknown as Server);
    expect(await probe(port, 'http')).toBe('closed http-403');
  });

  it('reports a proxy error as closed', async () => {
    const port = await listen(createHttpServer((_request, response) => response.writeHead(503).end('upstream connect error or disconnect/reset before headers')) as unknown as Server);
    expect(await probe(port, 'grpc')).toBe('closed proxy-error');
  });

  it('reports a PostgreSQL answer to SSLRequest as open', async () => {
    const port = await listen(createServer((socket) => socket.once('data', () => socket.end('N'))));
    expect(await probe(port, 'postgres')).toBe('open');
  });

  it('reports a silent TCP server that keeps the connection as open', async () => {
    const port = await listen(createServer(() => undefined));
    expect(await probe(port, 'tcp')).toBe('open');
  });

  it('reports a TCP connection the far side closes as closed', async () => {
    const port = await listen(createServer((socket) => socket.destroy()));
    expect(await probe(port, 'tcp')).toMatch(/^closed/);
  });

  it('reports a MongoDB answer to isMaster as open', async () => {
    let request = Buffer.alloc(0);
    const port = await listen(
      createServer((socket) =>
        socket.on('data', (chunk: Buffer) => {
          request = Buffer.concat([request, chunk]);
          // A well-formed OP_QUERY is 58 bytes long, with its length in the first four bytes.
          if (request.length >= 58 && request.readInt32LE(0) === 58 && request.readInt32LE(12) === 2004) socket.end('reply');
        }),
      ),
    );
    expect(await probe(port, 'mongodb')).toBe('open');
  });

  it('reports a silent MongoDB port as closed through a proxy', async () => {
    const port = await listen(createServer(() => undefined));
    expect(await probe(port, 'mongodb')).toBe('closed no-reply');
  });

  it('reports a direct connection the server accepts as open', async () => {
    const port = await listen(createServer(() => undefined));
    expect(await probe(port, 'grpc', 'direct')).toBe('open');
  });

  it('reports a direct connection the server closes at once as open', async () => {
    const port = await listen(createServer((socket) => socket.destroy()));
    expect(await probe(port, 'tcp', 'direct')).toBe('open');
  });

  it('reports a refused direct connection as closed', async () => {
    const port = await listen(createServer());
    servers.pop()!.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await probe(port, 'tcp', 'direct')).toBe('closed refused');
  });

  it('reports a refused connection as closed', async () => {
    const port = await listen(createServer());
    servers.pop()!.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await probe(port, 'postgres')).toMatch(/^closed/);
  });

  it('sends a TLS ClientHello that names the host, and reports the server\'s handshake as open', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'probe-tls-'));
    const certificate = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', join(directory, 'key.pem'), '-out', join(directory, 'cert.pem')], { encoding: 'utf8' });
    expect(certificate.status, certificate.stderr).toBe(0);
    const names: string[] = [];
    const server = createTlsServer({ key: readFileSync(join(directory, 'key.pem')), cert: readFileSync(join(directory, 'cert.pem')), SNICallback: (name, done) => { names.push(name); done(null); } });
    server.on('tlsClientError', () => undefined);
    rmSync(directory, { recursive: true, force: true });
    const port = await listen(server as unknown as Server);
    expect(await probe(port, 'tls', 'proxy', 'localhost')).toBe('open');
    expect(names).toEqual(['localhost']);
  });

  it('reports a TLS connection that a proxy closes without an answer as closed', async () => {
    const port = await listen(createServer((socket) => socket.once('data', () => socket.destroy())));
    expect(await probe(port, 'tls', 'proxy', 'localhost')).toMatch(/^closed/);
  });
});
