import { describeFaultScenarios } from "../support/fault-scenario.js";
import { FAULT_SCENARIOS } from "./fault-scenarios.js";

describeFaultScenarios(FAULT_SCENARIOS);
