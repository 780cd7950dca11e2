import type { V1ConfigMap } from '@kubernetes/client-node';
import type { ObjectRef } from '../object-ref.js';
import { loadConfig, type LoadedConfig } from './config-loader.js';
import type { ConfigMapFormat } from './convert/config-format.js';

/** Where a config problem or conversion warning is: ConfigProblem and ConversionWarning both have this. */
export interface Located {
  readonly path: string;
  readonly pool?: string | undefined;
}

/** Some problems or warnings, and the object whose Event carries them. */
export interface Attributed<T extends Located> {
  readonly target: ObjectRef;
  readonly items: readonly T[];
}

/**
 * The config as read from where it is kept, with what the controller needs to report on it: the same for a
 * ConfigMap (any ConfigMap format) and for MetalLB's objects (metallbObjectsView). Pure data; a ConfigSource
 * (k8s/config-source.ts) hands out a new one when what it reads changes.
 */
export interface ConfigView {
  readonly loaded: LoadedConfig;
  /** What the config is read from, for people: `namespace/name` of the ConfigMap, or which MetalLB objects where. */
  readonly name: string;
  /** The fields that say where, on the log lines about the config (a ConfigMap's: `configMap`). */
  readonly logFields: Readonly<Record<string, string>>;
  /** A version of what was read: the ConfigMap's resourceVersion, the MetalLB objects' joined; undefined when nothing exists. */
  readonly version: string | undefined;
  /** Set when there is nothing to read (no ConfigMap, no MetalLB object, or MetalLB's CRDs not served): says so, e.g. 'no ConfigMap: no pools'. */
  readonly absent: string | undefined;
  /** Where Events about the config as a whole go (ConfigLoaded): the ConfigMap; each IPAddressPool. */
  readonly targets: readonly ObjectRef[];
  /** Where Events about these problems or warnings go: each object with those that concern it (none when there is no object). */
  attribute<T extends Located>(items: readonly T[]): readonly Attributed<T>[];
}

/** The config in a ConfigMap written in `format` (barelb's, or MetalLB's or kube-vip's, converted). Pure. */
export function configMapView(cm: V1ConfigMap | undefined, format: ConfigMapFormat, namespace: string, name: string): ConfigView {
  const uid = cm?.metadata?.uid;
  const target: ObjectRef | undefined = uid ? { kind: 'ConfigMap', namespace, name, uid } : undefined;
  return {
    loaded: loadConfig(cm, format),
    name: `${namespace}/${name}`,
    logFields: { configMap: `${namespace}/${name}` },
    version: cm?.metadata?.resourceVersion,
    absent: cm ? undefined : 'no ConfigMap: no pools',
    targets: target ? [target] : [],
    attribute: (items) => (target && items.length > 0 ? [{ target, items }] : []),
  };
}
