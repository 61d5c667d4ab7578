export { ChaosBus, type ChaosBusMode, type ChaosBusOptions } from './chaos-bus.js'
export { type BusFactory, busConformanceSuite, type TestBus } from './conformance.js'
export { type HandlerCall, type Recorder, recorder } from './recorder.js'
