import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeApiError, KubeClient } from '../../../lib/clients/kube/client';
import { loadKubeconfig } from '../../../lib/clients/kube/config';
import { KubeApiEmulator, KubeApiEmulatorOptions } from '../../emulators/kube/emulator';
import { Clock, systemClock } from '../../../lib/clients/clock';

export interface Harness {
  readonly emulator: KubeApiEmulator;
  readonly client: KubeClient;
  readonly dir: string;
  close(): Promise<void>;
}

/** An emulator plus a client configured the way a user would: through a kubeconfig file. */
export async function startHarness(options: KubeApiEmulatorOptions = {}): Promise<Harness> {
  const emulator = await KubeApiEmulator.start(options);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-test-'));
  const file = emulator.writeKubeconfig(path.join(dir, 'config'));
  const client = new KubeClient(loadKubeconfig(file), { requestTimeoutMs: 10_000 });
  return {
    emulator,
    client,
    dir,
    async close() {
      await client.close();
      await emulator.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until `check` passes (returns without throwing and not false). This bounds liveness
 * only; nothing asserts how long it took.
 */
export async function eventually(check: () => unknown, what = 'condition', limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  let last: unknown;
  for (;;) {
    try {
      const r = await check();
      if (r !== false) return;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`gave up waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function pod(namespace: string, name: string, ip?: string, labels: Record<string, string> = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace, name, labels },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
    status: ip ? { phase: 'Running', podIP: ip, podIPs: [{ ip }] } : { phase: 'Pending' },
  };
}

export function namespace(name: string, labels: Record<string, string> = {}): object {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

/** Fast, abortable sleep for informers under test (backoff stays exponential, just short). */
export const quickClock: Clock = { ...systemClock, sleep: quickSleep };

export function quickSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(resolve, Math.min(ms, 20));
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: any;
}

/** One HTTPS request to the emulator with a chosen token, content type and body. */
export function rawRequest(
  h: Harness,
  method: string,
  urlPath: string,
  options: { readonly token?: string; readonly body?: string | object; readonly contentType?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(h.emulator.url + urlPath);
    const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? h.emulator.token}` };
    if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const req = https.request(
      { hostname: url.hostname, port: url.port, path: url.pathname + url.search, method, ca: h.emulator.caCert, headers },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The KubeApiError a call fails with (the test fails when it succeeds or fails otherwise). */
export async function errorOf(p: Promise<unknown>): Promise<KubeApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof KubeApiError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}
