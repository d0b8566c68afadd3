// A webpack 5 app using the package as a user would: the client and the React adapter.
import { createJobSocket } from "jobsocket";
import { JobSocketProvider, useGeneration } from "jobsocket/react";

export async function start(url) {
  const socket = await createJobSocket({ url });
  return { socket, JobSocketProvider, useGeneration };
}
