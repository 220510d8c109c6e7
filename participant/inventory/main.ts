/** The inventory participant's process: the inventory application run by the participant framework. */
import { runMain } from "../../shared/process-main.js";
import { startParticipant } from "../framework/start.js";
import { inventoryApplication } from "./inventory-application.js";

runMain("participant", () =>
  startParticipant({ application: inventoryApplication }).then(() => undefined),
);
