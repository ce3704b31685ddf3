/**
 * Bounds of the policy's lists, which are also those of the custom resources' fields. The
 * constructs refuse more (a CR beyond them is refused by the API server at apply, after the
 * BIG-IP was configured); they keep the CEL rules within the API server's cost budget and a CR
 * far below etcd's size limit.
 */
export const CR_LIMITS = {
  /** Destinations of a rule or an ExternalService. */
  destinations: 512,
  /** Ports of a rule. */
  ports: 64,
  /** Labels of a selector's matchLabels. */
  matchLabels: 32,
  /** Requirements of a selector's matchExpressions. */
  matchExpressions: 16,
  /** Values of one requirement. */
  values: 64,
} as const;
