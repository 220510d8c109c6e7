/** The bank participant's process: the bank application run by the participant framework. */
import { runMain } from "../../shared/process-main.js";
import { startParticipant } from "../framework/start.js";
import { bankApplication } from "./bank-application.js";

runMain("participant", async () => {
  await startParticipant({ application: bankApplication });
});
