// Evaluation: metrics equal to scikit-learn's, curve data for model cards, decision thresholds.
export * from './metrics.js';
export * from './thresholds.js';
export { type NumberVector, type ScoreInput } from './input.js';
