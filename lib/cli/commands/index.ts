/**
 * Every command of the tool. A new command is one module under this folder exporting a
 * CliCommand, added to this list.
 */
import type { CliCommand } from '../registry';
import { diffCommand } from './diff';
import { explainCommand } from './explain';
import { graphCommand } from './graph';
import { importCommand } from './import';
import { inventoryCommand } from './inventory';
import { reportCommand } from './report';
import { simulateCommand } from './simulate';
import { suggestCommand } from './suggest';
import { verifyCommand } from './verify';

export const COMMANDS: readonly CliCommand[] = [
  explainCommand,
  simulateCommand,
  graphCommand,
  importCommand,
  diffCommand,
  inventoryCommand,
  verifyCommand,
  reportCommand,
  suggestCommand,
];
