/**
 * tmsh on the emulated device, through `POST /mgmt/tm/util/bash` as the bigip provider's
 * `bigip_command` sends it: the firewall contexts (global rules, the global FQDN policy, route
 * domains), `show sys version`, `save sys config` and `load sys config`; and the iControl REST
 * resources of the global firewall context (`/mgmt/tm/security/firewall/global-rules`,
 * `global-fqdn-policy`).
 */
import { BigipPolicyAttachment, ContextState, Device, tmshPath } from './device';
import { ErrorAnswers, TmshError } from './http';
import { Json, isObject } from './json';

const TMOS_VERSION = { product: 'BIG-IP', version: '17.1.1', build: '0.0.2', edition: 'Final', date: 'Tue Dec 19 2023' };

export class Tmsh {
  constructor(
    private readonly device: Device,
    private readonly errors: ErrorAnswers,
  ) {}

  public globalRulesResource(method: string, body: unknown, pathname: string): [number, unknown] {
    const global = this.device.running.global;
    if (method === 'PATCH') {
      if (!isObject(body)) throw this.errors.tmos(400, 'PATCH body must be a JSON object');
      const changes: Array<[keyof BigipPolicyAttachment, string]> = [];
      for (const [k, v] of Object.entries(body)) {
        if (k !== 'enforcedPolicy' && k !== 'stagedPolicy')
          throw this.errors.tmos(400, `01070734:3: Configuration error: unknown property "${k}" of global-rules`);
        if (typeof v !== 'string') throw this.errors.tmos(400, `01070734:3: Configuration error: ${k} must be a policy path or "none"`);
        try {
          changes.push([k, this.policyValue(v)]);
        } catch (e) {
          // iControl REST reports mcpd's error as an HTTP error, unlike util/bash.
          if (e instanceof TmshError) throw this.errors.tmos(400, e.message);
          throw e;
        }
      }
      for (const [k, v] of changes) setAttachment(global, k, v);
    } else if (method !== 'GET') {
      throw this.errors.methodNotAllowed(method, pathname);
    }
    return [
      200,
      {
        kind: 'tm:security:firewall:global-rules:global-rulesstate',
        selfLink: 'https://localhost/mgmt/tm/security/firewall/global-rules',
        ...global,
      },
    ];
  }

  public globalFqdnPolicyResource(method: string, pathname: string): [number, unknown] {
    if (method !== 'GET') throw this.errors.methodNotAllowed(method, pathname);
    const resolver = this.device.running.fqdnResolver;
    return [
      200,
      {
        kind: 'tm:security:firewall:global-fqdn-policy:global-fqdn-policystate',
        selfLink: 'https://localhost/mgmt/tm/security/firewall/global-fqdn-policy',
        ...(resolver ? { dnsResolver: resolver } : {}),
      },
    ];
  }

  /** `none` or the path of a deployed firewall policy (else mcpd's "was not found"). */
  private policyValue(value: string): string {
    if (value === 'none') return value;
    const p = tmshPath(value);
    if (this.device.findObject(p)?.cls !== 'Firewall_Policy')
      throw new TmshError(`01020036:3: The requested Firewall Policy (${p}) was not found.`);
    return p;
  }

  /**
   * `POST /mgmt/tm/util/bash` as go-bigip `sys.go:747-755` (RunCommand) sends it for
   * `bigip_command`. A command that runs is answered 200 even when tmsh fails: its error text
   * is in `commandResult` (F5's Ansible modules look for it there, e.g. F5Networks/f5-ansible
   * `plugins/modules/bigip_iapp_template.py`: a 200 answer whose `commandResult` contains
   * "Syntax Error" is a failure). Only a malformed request, or a command this emulation does
   * not know, gets an HTTP error.
   */
  public bash(body: unknown): Json {
    if (!isObject(body) || body.command !== 'run' || typeof body.utilCmdArgs !== 'string') {
      throw this.errors.tmos(400, 'util bash takes {"command": "run", "utilCmdArgs": "-c \'<command>\'"}');
    }
    const m = /^-c '([^']*)'$/.exec(body.utilCmdArgs);
    if (!m)
      throw this.errors.tmos(
        400,
        `(emulator) This device runs only -c '<tmsh command>' through util bash (got ${JSON.stringify(body.utilCmdArgs)})`,
      );
    const inner = m[1].trim();
    if (/[;&|`$<>\\"\n]/.test(inner))
      throw this.errors.tmos(
        400,
        `(emulator) Shell syntax is not supported by this device's bash emulation (got ${JSON.stringify(inner)})`,
      );
    const words = inner.split(/\s+/);
    if (words[0] !== 'tmsh') throw this.errors.tmos(400, `(emulator) Only tmsh commands are supported (got ${JSON.stringify(words[0])})`);
    let output: string | undefined;
    try {
      output = this.tmsh(words.slice(1));
    } catch (e) {
      if (!(e instanceof TmshError)) throw e;
      output = `${e.message}\n`;
    }
    return {
      kind: 'tm:util:bash:runstate',
      command: 'run',
      utilCmdArgs: body.utilCmdArgs,
      ...(output !== undefined ? { commandResult: output } : {}),
    };
  }

  private tmsh(words: string[]): string | undefined {
    const cmd = words.join(' ');
    const syntax = (why: string) => new TmshError(`Syntax Error: ${why}`);
    const pairs = (rest: string[], allowed: readonly string[]): Array<[string, string]> => {
      const out: Array<[string, string]> = [];
      for (let i = 0; i < rest.length; i += 2) {
        if (!allowed.includes(rest[i])) throw syntax(`"${rest[i]}" unknown property`);
        if (i + 1 >= rest.length) throw syntax(`"${rest[i]}" requires a value`);
        out.push([rest[i], rest[i + 1]]);
      }
      if (out.length === 0) throw syntax(`expected ${allowed.join(' | ')} followed by a value`);
      return out;
    };
    const config = this.device.running;
    const [verb, ...rest] = words;
    const target = rest.slice(0, 3).join(' ');
    if (verb === 'modify' && target === 'security firewall global-rules') {
      const changes = pairs(rest.slice(3), ['enforced-policy', 'staged-policy']).map(
        ([k, v]) => [k === 'enforced-policy' ? 'enforcedPolicy' : 'stagedPolicy', this.policyValue(v)] as const,
      );
      for (const [k, v] of changes) setAttachment(config.global, k, v);
      return undefined;
    }
    if (verb === 'modify' && target === 'security firewall global-fqdn-policy') {
      const [[, value]] = pairs(rest.slice(3), ['dns-resolver']);
      if (value === 'none') {
        config.fqdnResolver = undefined;
        return undefined;
      }
      const resolver = tmshPath(value);
      if (!this.device.dnsResolvers.has(resolver))
        throw new TmshError(`01020036:3: The requested DNS Resolver (${resolver}) was not found.`);
      config.fqdnResolver = resolver;
      return undefined;
    }
    if (verb === 'modify' && rest[0] === 'net' && rest[1] === 'route-domain') {
      if (rest.length < 3) throw syntax('route domain name expected');
      // tmsh names a route domain by its name, never by its id.
      const rd = tmshPath(rest[2]);
      const state = config.routeDomains.get(rd);
      if (!state) throw new TmshError(`01020036:3: The requested route domain (${rd}) was not found.`);
      const changes = pairs(rest.slice(3), ['fw-enforced-policy', 'fw-staged-policy']).map(
        ([k, v]) => [k === 'fw-enforced-policy' ? 'enforcedPolicy' : 'stagedPolicy', this.policyValue(v)] as const,
      );
      for (const [k, v] of changes) setAttachment(state, k, v);
      return undefined;
    }
    if (verb === 'list' && target === 'security firewall global-rules' && rest.length === 3) {
      return tmshBlock('security firewall global-rules', {
        'enforced-policy': config.global.enforcedPolicy,
        'staged-policy': config.global.stagedPolicy,
      });
    }
    if (verb === 'list' && target === 'security firewall global-fqdn-policy' && rest.length === 3) {
      return tmshBlock('security firewall global-fqdn-policy', { 'dns-resolver': config.fqdnResolver });
    }
    if (verb === 'list' && rest[0] === 'net' && rest[1] === 'route-domain' && rest.length <= 3) {
      const names = rest.length === 3 ? [tmshPath(rest[2])] : [...config.routeDomains.keys()].sort();
      return names
        .map((rd) => {
          const state = config.routeDomains.get(rd);
          if (!state) throw new TmshError(`01020036:3: The requested route domain (${rd}) was not found.`);
          return tmshBlock(`net route-domain ${rd}`, {
            id: String(this.device.routeDomainIds.get(rd)),
            'fw-enforced-policy': state.enforcedPolicy,
            'fw-staged-policy': state.stagedPolicy,
          });
        })
        .join('');
    }
    if (verb === 'show' && rest.join(' ') === 'sys version') {
      const v = TMOS_VERSION;
      return `\nSys::Version\nMain Package\n  Product     ${v.product}\n  Version     ${v.version}\n  Build       ${v.build}\n  Edition     ${v.edition}\n  Date        ${v.date}\n\n`;
    }
    // The running configuration is what mcpd uses; `save sys config` writes it to /config and a
    // reboot or `load sys config` reads that back (tmsh reference, "sys config"). The printed
    // file list is abbreviated (unsettled).
    if (verb === 'save' && rest.join(' ') === 'sys config') {
      this.device.save();
      return 'Saving running configuration...\n  /config/bigip.conf\n  /config/bigip_base.conf\n  /config/bigip_user.conf\n';
    }
    if (verb === 'load' && rest.join(' ') === 'sys config') {
      this.device.restoreSaved();
      return 'Loading system configuration...\n  /defaults/config_base.conf\nLoading configuration...\n  /config/bigip_base.conf\n  /config/bigip_user.conf\n  /config/bigip.conf\n';
    }
    throw this.errors.tmos(
      400,
      `(emulator) "tmsh ${cmd}" is not emulated (modify/list security firewall global-rules, global-fqdn-policy, net route-domain; show sys version; save/load sys config)`,
    );
  }
}

function tmshBlock(header: string, props: Record<string, string | undefined>): string {
  const lines = Object.entries(props)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `    ${k} ${v}\n`)
    .join('');
  return lines ? `${header} {\n${lines}}\n` : `${header} { }\n`;
}

function setAttachment(target: ContextState, key: keyof BigipPolicyAttachment, value: string): void {
  if (value === 'none') delete target[key];
  else target[key] = value;
}
