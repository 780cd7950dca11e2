import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { BarelbError } from '../errors.js';
import { applyRequestDeadlines } from './request-deadline.js';

export class KubeconfigError extends BarelbError {
  readonly code = 'BARELB_KUBECONFIG';
}

/**
 * Where to find the cluster, as kubectl looks: `--kubeconfig`, else $KUBECONFIG
 * (a list of files, merged), else ~/.kube/config, else the in-cluster
 * ServiceAccount. Nothing found, or a file that doesn't load, is an error
 * naming what was tried. Every request made through it has a deadline (request-deadline.ts).
 */
export function loadKubeConfig(flag: string | undefined): KubeConfig {
  const env = process.env;
  const kc = new KubeConfig();
  const home = path.join(os.homedir(), '.kube', 'config');
  const fromEnv = env['KUBECONFIG'];
  const source = flag ? `--kubeconfig ${flag}` : fromEnv ? `$KUBECONFIG (${fromEnv})` : existsSync(home) ? home : undefined;
  try {
    if (flag) kc.loadFromFile(flag);
    else if (fromEnv) kc.loadFromDefault();
    else if (source) kc.loadFromFile(home);
    else if (env['KUBERNETES_SERVICE_HOST']) kc.loadFromCluster();
    else throw new KubeconfigError('no cluster to talk to: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run in a Pod');
  } catch (err) {
    if (err instanceof KubeconfigError) throw err;
    throw new KubeconfigError(`cannot load the kubeconfig from ${source ?? 'the in-cluster ServiceAccount'}: ${(err as Error).message}`, { cause: err });
  }
  if (!kc.getCurrentCluster()) throw new KubeconfigError(`${source ?? 'the kubeconfig'} names no current cluster: set current-context`);
  return applyRequestDeadlines(kc);
}
