/** The pool config formats barelb reads: its own, and the two it migrates from. */
export const CONFIG_FORMATS = ['barelb', 'metallb', 'kube-vip'] as const;

export type ConfigFormat = (typeof CONFIG_FORMATS)[number];

/** The foreign formats `barelb config convert --from` accepts. */
export type ForeignFormat = Exclude<ConfigFormat, 'barelb'>;

export function isConfigFormat(v: string): v is ConfigFormat {
  return (CONFIG_FORMATS as readonly string[]).includes(v);
}
