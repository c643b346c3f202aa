// Streaming feature engineering: spec -> DuckDB SQL + native transforms (see schemas/feature-spec.schema.json).
export { buildFeatures, type BuildFeaturesOptions, type BuildFeaturesResult } from './build.js';
export { applyFeatures, type ApplyFeaturesOptions } from './apply.js';
export { loadSpec, validateSpec, parseSpecText, parseWindow, type FeatureSpec, type FeatureDef, type WindowFn, type CrossFn, type CalendarPart } from './spec.js';
export { compileStage, buildInputRelation, type StagePlan, type InputRelation, type InputColumn } from './plan.js';
export { encodeBatch, fitCategory, fitTextHash, OTHER_VALUE, type FittedEncoder, type CategoryEncoder, type TextHashEncoder, type UnseenCounts } from './encode.js';
export { readFeatureSchema, assertValidFeatureSchema, type FeatureSchema, type FeatureSchemaColumn, type ColumnStats } from './schema-doc.js';
