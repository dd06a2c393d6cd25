/** The report model as JSON, for pipelines: the model itself, versioned by `version`. Pure. */
import type { ReportModel } from './model.js';

export function renderJson(model: ReportModel): string {
  return `${JSON.stringify(model, null, 2)}\n`;
}
