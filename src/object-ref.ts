/** A Kubernetes object as an Event names it (its involvedObject): no client types, so pure code can say it. */
export interface ObjectRef {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly apiVersion?: string;
}
