import * as fs from 'node:fs';
import * as path from 'node:path';
import { As3Validator } from '../../lib/testing/as3-validator';

/** F5's AS3 schema, vendored beside the repository (not shipped with it). */
export const AS3_SCHEMA_PATH = path.resolve(__dirname, '../../../shared/conformance/as3/as3-schema-3.56.0-10.json');

let validator: As3Validator | undefined;

/**
 * The AS3 validator, or undefined (with a printed reason) when the schema file is absent, as on
 * a fresh clone without `../shared`. Tests use `describeWithAs3Schema` to skip with a message.
 */
export function as3Validator(): As3Validator | undefined {
  if (!fs.existsSync(AS3_SCHEMA_PATH)) return undefined;
  validator ??= As3Validator.fromSchemaFile(AS3_SCHEMA_PATH);
  return validator;
}

export const describeWithAs3Schema: jest.Describe = fs.existsSync(AS3_SCHEMA_PATH)
  ? describe
  : (((name: string, fn: () => void) => {
      console.warn(`Skipping "${name}": AS3 schema not found at ${AS3_SCHEMA_PATH} (it lives in ../shared/conformance/as3/).`);
      describe.skip(name, fn);
    }) as unknown as jest.Describe);
