import { KubeConfig } from '@kubernetes/client-node';

/** `--kubeconfig`, else $KUBECONFIG, else the in-cluster ServiceAccount. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  const file = path || process.env['KUBECONFIG'];
  if (file) kc.loadFromFile(file);
  else if (process.env['KUBERNETES_SERVICE_HOST']) kc.loadFromCluster();
  else throw new Error('no cluster to talk to: pass --kubeconfig, set KUBECONFIG, or run in a Pod');
  return kc;
}
