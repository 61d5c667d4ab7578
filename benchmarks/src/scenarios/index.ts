import type { Scenario } from '../harness/scenario.js'
import { codec } from './codec.js'
import { expiry } from './expiry.js'
import { getMany } from './get-many.js'
import { l1Hit } from './l1-hit.js'
import { l2Hit } from './l2-hit.js'
import { memory } from './memory.js'
import { stampede } from './stampede.js'
import { tracing } from './tracing.js'

/** Every scenario, in report order. */
export const SCENARIOS: readonly Scenario[] = [l1Hit, tracing, l2Hit, codec, getMany, stampede, expiry, memory]
