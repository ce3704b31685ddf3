export {
  BIGIP_GENERATOR_METADATA,
  BigipProvider,
  type BigipProviderConfig,
  hclAttributes,
  hclBoolean,
  hclNumber,
  hclString,
  hclStringList,
} from './provider';
export { BigipAs3, type BigipAs3Config } from './as3';
export { BigipCommand, type BigipCommandConfig } from './command';
