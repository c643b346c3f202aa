// Drift detection: native two-sample statistics, Benjamini–Hochberg decisions, JSON and HTML reports.
export { FeatureDriftDetector, detectFeatureDrift, setBaseline, detectDrift, benjaminiHochberg, resolveDriftOptions, DRIFT_METHODS, DEFAULT_THRESHOLDS, type DriftMethod, type DriftOptions, type DriftProgress, type DriftReport, type FeatureDriftResult, type MethodResult, type DriftBaseline, type ColumnRole } from './detector.js';
export { openDriftSource, type DriftInput, type DriftReadOptions, type FeatureKind } from './data.js';
export { renderDriftHtml, histogramSvg, escapeHtml } from './html.js';
