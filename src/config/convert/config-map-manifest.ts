import yaml from 'js-yaml';
import { BarelbError } from '../../errors.js';
import { CONFIG_KEY } from '../types.js';

export class InvalidManifestError extends BarelbError {
  readonly code = 'BARELB_INVALID_MANIFEST';
}

/** The parts of a ConfigMap manifest a conversion reads. */
export interface ConfigMapManifest {
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly data: Readonly<Record<string, string>>;
}

/**
 * The objects of a manifest as kubectl prints them (`-o yaml` or `-o json`): one object, a List of
 * objects, or several YAML documents.
 */
export function readManifestObjects(text: string): Record<string, unknown>[] {
  let docs: unknown[];
  try {
    docs = yaml.loadAll(text, undefined, { schema: yaml.CORE_SCHEMA });
  } catch (err) {
    const reason = err instanceof yaml.YAMLException ? err.message.split('\n')[0] : String(err);
    throw new InvalidManifestError(`the input is not valid YAML: ${reason}`);
  }
  return docs.flatMap((d) => (isObject(d) && d['kind'] === 'List' && Array.isArray(d['items']) ? d['items'] : [d])).filter(isObject);
}

/** Finds the one ConfigMap in a manifest (see readManifestObjects); exactly one object must be a ConfigMap. */
export function readConfigMapManifest(text: string): ConfigMapManifest {
  return configMapOf(readManifestObjects(text));
}

/** The one ConfigMap among a manifest's objects. */
export function configMapOf(objects: readonly Record<string, unknown>[]): ConfigMapManifest {
  const configMaps = objects.filter((o) => o['kind'] === 'ConfigMap');
  if (configMaps.length !== 1) {
    const kinds = objects.map((o) => String(o['kind'] ?? '<no kind>'));
    throw new InvalidManifestError(
      configMaps.length === 0
        ? `expected a ConfigMap manifest (as kubectl get configmap NAME -o yaml prints it), found ${kinds.length ? kinds.join(', ') : 'nothing'}`
        : `expected one ConfigMap, found ${configMaps.length}: ${configMaps.map(nameOf).join(', ')}; pass just the one to convert`,
    );
  }
  const cm = configMaps[0] as Record<string, unknown>;
  const rawData = cm['data'] ?? {};
  if (!isObject(rawData)) throw new InvalidManifestError(`ConfigMap ${nameOf(cm)}: data must be a mapping of keys to strings`);
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawData)) {
    if (typeof v !== 'string') throw new InvalidManifestError(`ConfigMap ${nameOf(cm)}: data.${k} must be a string (quote it: "${String(v)}")`);
    data[k] = v;
  }
  const meta = isObject(cm['metadata']) ? cm['metadata'] : {};
  return { namespace: str(meta['namespace']), name: str(meta['name']), data };
}

/** barelb's ConfigMap manifest holding `config.yaml`; `comment` lines go on top. */
export function renderConfigMapManifest(opts: { namespace: string; name: string; configYaml: string; comment?: readonly string[] }): string {
  const manifest = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: opts.name, namespace: opts.namespace },
    data: { [CONFIG_KEY]: opts.configYaml },
  };
  const head = (opts.comment ?? []).map((l) => `# ${l}\n`).join('');
  return head + yaml.dump(manifest, { lineWidth: -1, noRefs: true });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function nameOf(o: Record<string, unknown>): string {
  const meta = isObject(o['metadata']) ? o['metadata'] : {};
  return [str(meta['namespace']), str(meta['name']) ?? '<unnamed>'].filter(Boolean).join('/');
}
