/**
 * The pool config formats barelb reads: its own, and the two it migrates from. All but `metallb-crds` are
 * ConfigMaps; `metallb-crds` is MetalLB's IPAddressPool and L2Advertisement objects, read from the API.
 */
export const CONFIG_FORMATS = ['barelb', 'metallb', 'kube-vip', 'metallb-crds'] as const;

export type ConfigFormat = (typeof CONFIG_FORMATS)[number];

/** The formats kept in a ConfigMap. */
export type ConfigMapFormat = Exclude<ConfigFormat, 'metallb-crds'>;

/** The foreign ConfigMap formats (`barelb config convert --from` also reads MetalLB's objects as `metallb`). */
export type ForeignFormat = Exclude<ConfigMapFormat, 'barelb'>;

export function isConfigFormat(v: string): v is ConfigFormat {
  return (CONFIG_FORMATS as readonly string[]).includes(v);
}
