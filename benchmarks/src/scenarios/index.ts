import type { Scenario } from '../harness/scenario.js'
import { l1Hit } from './l1-hit.js'

/** Every scenario, in report order. */
export const SCENARIOS: readonly Scenario[] = [l1Hit]
