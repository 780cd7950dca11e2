#!/usr/bin/env node
import { BarelbError } from '../errors.js';

type Command = (argv: string[]) => Promise<number>;

// Each command is loaded when it runs: `barelb config convert` and every --help start without the
// Kubernetes client and the rest of what the long-running programs need.
const COMMANDS = new Map<string, () => Promise<Command>>([
  ['controller', async () => (await import('./controller-command.js')).runController],
  ['speaker', async () => (await import('./speaker-command.js')).runSpeaker],
  ['config', async () => (await import('./config-command.js')).runConfig],
  ['status', async () => (await import('./status-command.js')).runStatus],
]);

const HELP = `Usage: barelb <command> [flags]

Load balancer for bare-metal Kubernetes.

Commands:
  controller   assign External IPs from the configured pools to LoadBalancer Services
  speaker      announce those IPs from this node (ARP), one node per IP
  config       convert MetalLB's pools (objects or ConfigMap) or kube-vip's to barelb's: barelb config convert --help
  status       pools, Services, announcing nodes and problems (also: kubectl barelb status)
  help         show this help, or a command's: barelb help speaker

Run 'barelb <command> --help' for a command's flags.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const load = command === undefined ? undefined : COMMANDS.get(command);
  if (load) return (await load())(rest);
  if (command === 'help' || command === '--help' || command === '-h' || command === undefined) {
    // `barelb help speaker` is `barelb speaker --help`: one help text per command.
    const topic = rest[0] === undefined ? undefined : COMMANDS.get(rest[0]);
    if (topic) return (await topic())(['--help']);
    process.stdout.write(`${HELP}\n`);
    return command === undefined ? 2 : 0;
  }
  process.stderr.write(`barelb: unknown command "${command}"\n\n${HELP}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // Flag and usage errors are the user's to fix: say what is wrong, no stack.
    const isUsage = err instanceof BarelbError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`barelb: ${isUsage ? (err as Error).message : (err as Error).stack ?? String(err)}\n`);
    process.exit(isUsage ? 2 : 1);
  },
);
