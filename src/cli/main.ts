#!/usr/bin/env node
import { BarelbError } from '../errors.js';
import { runConfig } from './config-command.js';
import { CONTROLLER_HELP, runController } from './controller-command.js';
import { SPEAKER_HELP, runSpeaker } from './speaker-command.js';
import { runStatus } from './status-command.js';

const HELP = `Usage: barelb <command> [flags]

Load balancer for bare-metal Kubernetes.

Commands:
  controller   assign External IPs from the configured pools to LoadBalancer Services
  speaker      announce those IPs from this node (ARP), one node per IP
  config       convert a MetalLB or kube-vip pool ConfigMap to barelb's: barelb config convert --help
  status       pools, Services, announcing nodes and problems (also: kubectl barelb status)
  help         show this help, or a command's: barelb help speaker

Run 'barelb <command> --help' for a command's flags.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'controller':
      return runController(rest);
    case 'speaker':
      return runSpeaker(rest);
    case 'config':
      return runConfig(rest);
    case 'status':
      return runStatus(rest);
    case 'help':
    case '--help':
    case '-h':
    case undefined:
      process.stdout.write(`${rest[0] === 'controller' ? CONTROLLER_HELP : rest[0] === 'speaker' ? SPEAKER_HELP : HELP}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`barelb: unknown command "${command}"\n\n${HELP}\n`);
      return 2;
  }
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
