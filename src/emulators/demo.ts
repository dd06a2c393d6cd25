/**
 * What `tagledger demo` runs against: each registry kind contributes a scenario — an emulator with a
 * sample estate, the target config that points at it, and the changes made between the two scans.
 */
import type { TargetConfig } from '../config/schema.js';

export interface DemoScenario {
  target: TargetConfig;
  /** Makes the changes between the scans; returns one line per change (and per refused change). */
  change(): Promise<string[]>;
  /** Tags worth showing the history of after the second scan (`repository:tag`). */
  historyOf: string[];
  close(): Promise<void>;
}
