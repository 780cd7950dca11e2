import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { InvalidConfigError, formatProblem } from '../config/config-error.js';
import { configMapOf, readManifestObjects, renderConfigMapManifest, InvalidManifestError } from '../config/convert/config-map-manifest.js';
import { CONFIG_FORMATS, isConfigFormat, type ConfigFormat, type ForeignFormat } from '../config/convert/config-format.js';
import { convertConfigMapData } from '../config/convert/convert-config-map.js';
import { formatWarning, type Conversion } from '../config/convert/conversion.js';
import { convertMetallbObjects, metallbObjects } from '../config/convert/metallb-crds.js';
import { BarelbError } from '../errors.js';
import { InvalidFlagError } from './duration.js';

export const CONFIG_HELP = `Usage: barelb config <subcommand> [flags]

Subcommands:
  convert      turn MetalLB's pools (objects or ConfigMap) or kube-vip's ConfigMap into barelb's

Run 'barelb config convert --help' for its flags.`;

export const CONVERT_HELP = `Usage: barelb config convert --from metallb|kube-vip [-f FILE|-] [flags]

Reads a ConfigMap manifest as 'kubectl get configmap NAME -o yaml' prints it
(also a List, or several YAML documents, holding exactly one ConfigMap), or
MetalLB's IPAddressPool and L2Advertisement objects (MetalLB 0.13 and later: a
List as kubectl prints them, or the YAML documents kept in git), and prints
barelb's ConfigMap with the same pools on stdout. What barelb does differently
is printed on stderr as warnings; read them before applying.

  kubectl get ipaddresspools,l2advertisements -A -o yaml | barelb config convert --from metallb > barelb-config.yaml
  kubectl get cm -n metallb-system config -o yaml | barelb config convert --from metallb | kubectl apply -f -
  kubectl get cm -n kube-system kubevip -o yaml | barelb config convert --from kube-vip > barelb-config.yaml

Flags:
  --from FORMAT          metallb: MetalLB's objects (IPAddressPool, L2Advertisement; BGP ones
                         are refused), or its pre-0.13 ConfigMap (address-pools under data.config);
                         kube-vip: kube-vip-cloud-provider's keys (cidr-*, range-*, allow-share-*)
  -f, --file FILE        read the manifest from FILE; "-" or no -f: from stdin
  --namespace NS         namespace of the printed ConfigMap (default: barelb-system)
  --name NAME            name of the printed ConfigMap (default: barelb-config)
  -h, --help             show this help

Exit status: 0 converted (warnings or not), 2 the input cannot be converted
(every problem is listed) or a flag is wrong.

The controller and the speaker can also read the foreign ConfigMap, or MetalLB's
objects, as they are: see --config-format in 'barelb controller --help'.`;

const FROM: readonly ForeignFormat[] = ['metallb', 'kube-vip'];

/** The --config-format lines of the controller's and the speaker's help. */
export const CONFIG_FORMAT_HELP = `  --config-format F      how the pool config is kept (default: barelb, barelb's ConfigMap):
                         metallb: MetalLB's pre-0.13 ConfigMap, YAML under "config"
                           (usually --config-namespace metallb-system --config-map config);
                         metallb-crds: MetalLB's IPAddressPool and L2Advertisement objects
                           (0.13 and later): all of them in --config-namespace, usually
                           metallb-system; --config-map is not used. Needs get, list, watch
                           on them there (examples/metallb-crds/rbac.yaml);
                         kube-vip: kube-vip-cloud-provider's cidr-*/range-* keys
                           (usually --config-namespace kube-system --config-map kubevip);
                         converted as 'barelb config convert' does, warnings logged`;

/** The value of --config-format, checked. */
export function parseConfigFormat(value: string): ConfigFormat {
  if (!isConfigFormat(value)) throw new InvalidFlagError('config-format', value, CONFIG_FORMATS.join(', '));
  return value;
}

class InputError extends BarelbError {
  readonly code = 'BARELB_CONVERT_INPUT';
}

export async function runConfig(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'convert':
      return runConvert(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${CONFIG_HELP}\n`);
      return sub === undefined ? 2 : 0;
    default:
      process.stderr.write(`barelb: unknown config subcommand "${sub}"\n\n${CONFIG_HELP}\n`);
      return 2;
  }
}

async function runConvert(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      from: { type: 'string' },
      file: { type: 'string', short: 'f' },
      namespace: { type: 'string', default: 'barelb-system' },
      name: { type: 'string', default: 'barelb-config' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${CONVERT_HELP}\n`);
    return 0;
  }
  const from = values.from;
  if (from === undefined) throw new InvalidFlagError('from', '', `${FROM.join(' or ')}: which format the input is in`);
  if (!(FROM as readonly string[]).includes(from)) throw new InvalidFlagError('from', from, FROM.join(' or '));
  const format = from as ForeignFormat;
  const file = values.file ?? '-';
  const where = file === '-' ? 'stdin' : file;
  try {
    const objects = readManifestObjects(await readInput(file));
    const metallb = format === 'metallb' ? metallbObjects(objects) : undefined;
    let converted: Conversion;
    let origin: string;
    if (metallb) {
      converted = convertMetallbObjects(metallb);
      origin = `the MetalLB objects from ${where}`;
    } else {
      const manifest = configMapOf(objects);
      converted = convertConfigMapData(format, manifest.data);
      origin = `the ${format} ConfigMap ${[manifest.namespace, manifest.name].filter(Boolean).join('/') || where}`;
    }
    process.stdout.write(
      renderConfigMapManifest({
        namespace: values.namespace,
        name: values.name,
        configYaml: converted.yaml,
        comment: [`Converted from ${origin} by barelb config convert --from ${format}.`],
      }),
    );
    for (const w of converted.warnings) process.stderr.write(`barelb: warning: ${formatWarning(w)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof InvalidConfigError) {
      process.stderr.write(`barelb: cannot convert the ${format} config from ${where}:\n${err.problems.map((p) => `  ${formatProblem(p)}\n`).join('')}`);
      return 2;
    }
    if (err instanceof InvalidManifestError || err instanceof InputError) {
      process.stderr.write(`barelb: ${where}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

async function readInput(file: string): Promise<string> {
  if (file !== '-') {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new InputError(`cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (process.stdin.isTTY) throw new InputError('no input: pipe a ConfigMap manifest in, or pass -f FILE');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
