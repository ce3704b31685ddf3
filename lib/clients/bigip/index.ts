/**
 * The controller's BIG-IP client: token auth, TLS verification, retries, serialized writes.
 */
export {
  BigipClient,
  type As3DeclareOptions,
  type As3DeclareResult,
  type As3Info,
  type As3TenantResult,
  type BigipClientOptions,
  type BigipClientStats,
  type BigipLogger,
  type BigipRetryOptions,
} from './client';
export {
  BigipApiError,
  classifyNetworkError,
  classifyResponse,
  deviceMessageOf,
  type BigipApiErrorProps,
  type BigipErrorReason,
  type ResponseClass,
} from './errors';
