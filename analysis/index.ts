// Public API of the analysis component: events, segmentation, statistics and the whole
// `analyze` pipeline from in-memory rows, plus the CSV reader and the report renderers.
export { analyzeRows, analyseSeries, analyseTrial, analyseFamilies } from './analyze.js';
export type { AnalysisResult, TrialResult } from './analyze.js';
export type { FamilyResult, GroupSummary, PairwiseResult } from './families.js';
export { buildTrials, axisNames, compareLevels } from './trials.js';
export type { AnalysisRow, AxisValue, TrialSeries } from './trials.js';
export { resolveAnalysisSpec, parseAnalysisSpec, analysisSpecSchema } from './analysis-spec.js';
export type { AnalysisSpec, AnalysisSpecInput } from './analysis-spec.js';
export { DEFAULT_EVENTS, detectEvent, thresholdEvent, steepestDeclineEvent } from './events.js';
export type { Criterion, EventDefinition, EventTime, ProbeSeries } from './events.js';
export { segment, DEFAULT_SEGMENTATION } from './segmentation.js';
export type { Segmentation, SegmentationOptions } from './segmentation.js';
export { parseCsv, parseAxisValue } from './csv.js';
export type { CsvRead } from './csv.js';
export * from './stats/index.js';
export { analyseSeriesParallel } from './parallel.js';
export type { ParallelOptions } from './parallel.js';
