import { BigipClient, BigipLogger } from '../../clients/bigip';
import {
  DeviceVerification,
  bigipDeviceReader,
  expectedDevices,
  formatVerifyJson,
  formatVerifyText,
  verifyDevice,
  verifyHaDevice,
} from '../../verify';
import { INPUT_LIMITS, readTextFile } from '../../files/input-files';
import { loadCluster } from '../inputs';
import { CliCommand, CliIo, ParsedArgs } from '../registry';
import { UsageError } from '../../files/usage-error';
import { quote } from '../../files/text';

const FORMATS = ['text', 'json'];

/** What the command takes from its surroundings; tests pass their own. */
export interface VerifyEnvironment {
  /** Environment variables: BIGIP_USER, BIGIP_PASSWORD, BIGIP_CA_FILE. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

function credentials(env: VerifyEnvironment['env']): { username: string; password: string } {
  const username = env.BIGIP_USER;
  const password = env.BIGIP_PASSWORD;
  const missing = [username ? '' : 'BIGIP_USER', password ? '' : 'BIGIP_PASSWORD'].filter(Boolean);
  if (missing.length) {
    throw new UsageError(
      `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set`,
      'nothing',
      "export the BIG-IP username and password as BIGIP_USER and BIGIP_PASSWORD (the bigip provider's environment); verify never takes them as options",
    );
  }
  return { username: username as string, password: password as string };
}

/** `--bigip-url`: `https://host[:port]` only. */
function bigipUrl(text: string): string {
  let u: URL | undefined;
  try {
    u = new URL(text);
  } catch {
    u = undefined;
  }
  if (!u || u.protocol !== 'https:' || u.username || u.password || (u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) {
    throw new UsageError(
      '--bigip-url',
      quote(text),
      'write the management URL as https://<host>[:<port>] (HTTPS only, no path or credentials)',
    );
  }
  return u.origin;
}

function tls(args: ParsedArgs, env: VerifyEnvironment['env'], io: CliIo): { caBundle?: string; insecureSkipTlsVerify?: boolean } {
  const option = args.string('ca-file');
  const caFile = option ?? (env.BIGIP_CA_FILE || undefined);
  if (args.flag('insecure')) {
    if (caFile !== undefined)
      throw new UsageError(
        '--insecure contradicts the CA bundle',
        quote(caFile),
        `give ${option !== undefined ? '--ca-file' : 'BIGIP_CA_FILE'} to verify the device, or --insecure to skip verification, not both`,
      );
    io.stderr(
      'cdktf-ces verify: WARNING: TLS verification is off (--insecure): anyone on the network path can impersonate the BIG-IP and capture the password and token. Use --ca-file outside a lab.\n',
    );
    return { insecureSkipTlsVerify: true };
  }
  if (caFile === undefined) return {};
  const source = option !== undefined ? 'the --ca-file' : 'the BIGIP_CA_FILE';
  const pem = readTextFile(
    { file: caFile, role: `${source} CA bundle`, howTo: 'give the PEM file of the CA that signed the BIG-IP management certificate' },
    io.cwd,
    INPUT_LIMITS.yamlBytes,
  );
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new UsageError(
      `${source} file holds no PEM certificate`,
      quote(caFile),
      'give the PEM file of the CA that signed the BIG-IP management certificate',
    );
  return { caBundle: pem };
}

/** Warnings of the client (the TLS warning is printed by the command) go to stderr as text. */
function logger(io: CliIo): BigipLogger {
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (message) => {
      if (!message.startsWith('TLS VERIFICATION IS OFF')) io.stderr(`cdktf-ces verify: ${message}\n`);
    },
    error: (message) => io.stderr(`cdktf-ces verify: ${message}\n`),
  };
}

/** The verify command, reading its environment from `environment`. */
export function verifyCommandWith(environment: VerifyEnvironment): CliCommand {
  return {
    name: 'verify',
    summary:
      'Checks that the BIG-IP holds what the synth output deploys; run it after "cdktf deploy". It reads back AS3\'s last task results of each tenant (AS3\'s final Common pass included, which terraform apply does not check), the declaration AS3 stores against the synthesized one, the enforced and staged policy attached to the global context and to every route domain (changed by hand, or lost at a reboot), the FQDN resolver, the event-driven source lists, the route domains the declarations name, and that tmsh changes are saved. Exit code 0 when all is well, 1 with one line per problem (what, where, expected and found, fix), 2 on bad input.\n\n' +
      "The BIG-IP is the address of the device's bigip provider in the synth output, or --bigip-url. Credentials come from BIGIP_USER and BIGIP_PASSWORD, never from options. TLS is verified against --ca-file or BIGIP_CA_FILE (else the system's trusted CAs); --insecure turns verification off, with a warning. With --state or --kubeconfig the source lists are compared with the pods they select; without, a list that holds only AS3's placeholder is a warning.",
    usage:
      'verify [--out <dir>] [--device <device>|all] [--bigip-url <https://host[:port]>] [--ca-file <pem>] [--state <file.yaml> | --kubeconfig <file>] [--format text|json]',
    maxPositionals: 0,
    options: [
      { name: 'out', type: 'string', arg: '<dir>', help: 'synth output directory (default: cdktf.out)' },
      {
        name: 'device',
        type: 'string',
        arg: '<device>|all',
        help: 'the AfmDevice (tenant, cluster name, <stack>/<tenant> or construct path), or all (default)',
      },
      {
        name: 'bigip-url',
        type: 'string',
        arg: '<https://host[:port]>',
        help: "the BIG-IP management URL (default: the address of the device's bigip provider)",
      },
      {
        name: 'ca-file',
        type: 'string',
        arg: '<pem>',
        help: "CA bundle of the management certificate (default: BIGIP_CA_FILE, else the system's trusted CAs)",
      },
      { name: 'insecure', type: 'boolean', help: 'do not verify the management certificate (lab only; prints a warning)' },
      {
        name: 'state',
        type: 'string',
        arg: '<file.yaml>',
        help: 'cluster state (kubectl get pods,namespaces,services -A -o yaml): compare the source lists with the pods',
      },
      { name: 'kubeconfig', type: 'string', arg: '<file>', help: 'read the cluster state from the cluster of this kubeconfig' },
      { name: 'context', type: 'string', arg: '<name>', help: 'kubeconfig context (default: its current context)' },
      { name: 'format', type: 'string', arg: '<text|json>', help: 'report format (default text)' },
    ],
    async run(args, io) {
      const format = args.string('format') ?? 'text';
      if (!FORMATS.includes(format)) throw new UsageError('--format', quote(format), `use one of ${FORMATS.join(', ')}`);
      const devices = expectedDevices(args.string('out') ?? 'cdktf.out', io.cwd, args.string('device'));
      const urlOption = args.string('bigip-url');
      const override = urlOption !== undefined ? bigipUrl(urlOption) : undefined;
      if (override !== undefined && new Set(devices.map((d) => d.managementUrl)).size > 1) {
        throw new UsageError(
          '--bigip-url with devices on several BIG-IPs',
          devices.map((d) => `${d.label}: ${d.managementUrl}`).join(', '),
          'choose one device with --device <tenant>',
        );
      }
      const { username, password } = credentials(environment.env);
      const connection = tls(args, environment.env, io);
      const { cluster } = await loadCluster(args, io);
      if (cluster && devices.length > 1) {
        throw new UsageError(
          'cluster state is of one cluster, but several devices are verified',
          devices.map((d) => d.label).join(', '),
          "choose the cluster's device with --device <tenant>",
        );
      }
      const clients = new Map<string, BigipClient>();
      const results: DeviceVerification[] = [];
      const clientFor = (url: string): BigipClient => {
        let client = clients.get(url);
        if (!client) {
          client = new BigipClient({ url, username, password, ...connection, logger: logger(io), retry: { maxAttempts: 3 } });
          clients.set(url, client);
        }
        return client;
      };
      try {
        for (const device of devices) {
          // A BIG-IP pair: every unit is read, the one active in full (lib/verify/ha.ts).
          if (device.ha) {
            if (override !== undefined)
              throw new UsageError(
                '--bigip-url with a device that is a BIG-IP pair',
                `${device.label}: ${device.ha.units.join(', ')}`,
                "leave --bigip-url out: verify reads every unit of the pair at the addresses of the synth output's providers",
              );
            results.push(
              await verifyHaDevice(
                device,
                device.ha,
                clientFor,
                cluster ? { cluster: { snapshot: cluster.snapshot, source: cluster.source } } : {},
              ),
            );
            continue;
          }
          const url = override ?? device.managementUrl;
          const client = clientFor(url);
          results.push(
            await verifyDevice(
              device,
              bigipDeviceReader(client),
              cluster ? { cluster: { snapshot: cluster.snapshot, source: cluster.source } } : {},
            ),
          );
        }
      } finally {
        await Promise.all([...clients.values()].map((c) => c.close()));
      }
      io.stdout(format === 'json' ? formatVerifyJson(results) : formatVerifyText(results));
      return results.some((r) => r.problems.some((p) => p.severity === 'error')) ? 1 : 0;
    },
  };
}

export const verifyCommand: CliCommand = verifyCommandWith({ env: process.env });
