import type { AnalysisResult } from '../analyze.js';
import type { TrialSeries } from '../trials.js';
export function renderHtml(
  _r: AnalysisResult,
  _t: readonly TrialSeries[],
  _o: { alpha: number; confidence: number },
): string {
  return '';
}
