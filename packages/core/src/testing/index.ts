export { type ChaosMode, ChaosStore } from './chaos-store.js'
export { type ConformanceOptions, storeConformanceSuite } from './conformance.js'
